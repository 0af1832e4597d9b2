"""Which copies of an EdgeDataset count as ready, and the nodes that wait, with why (pure).

A copy is **ready** (in ``readyNodes``, counted by placement) only when its download
succeeded *and* its edge claim is Bound: the placer counts a dataset on a node only
through that Bound claim (``syncer/bound_claims.py``), so status and placement agree.
Every other chosen node that neither failed nor runs a download is **pending**, listed
in ``status.pendingNodes`` with its reason:

- ``TransferLimit`` / ``StorageBudget``: held by the tenant's budget (``dataset_quota``);
- ``VolumeRefused``: the edge refused the copy's PersistentVolume or claim (a quota of
  the tenant's edge namespace), with the edge's message in tenant terms;
- ``VolumePending``: downloaded, its claim not written or not Bound yet.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from syncer.kinds.dataset_quota import Hold
from syncer.kinds.edge_targets import NodeState, Target
from syncer.kube import Obj

VOLUME_REFUSED, VOLUME_PENDING = "VolumeRefused", "VolumePending"


@dataclass(frozen=True)
class Pending:
    reason: str
    message: str


def claim_pending(phase: str | None, refusal: str | None) -> Pending | None:
    """Why a downloaded copy's claim (its phase; None: absent) does not make it ready yet."""
    if refusal is not None:
        return Pending(VOLUME_REFUSED, refusal)
    if phase == "Bound":
        return None
    if phase is None:
        return Pending(VOLUME_PENDING, "downloaded; its PersistentVolumeClaim is being written")
    return Pending(VOLUME_PENDING, f"downloaded; its PersistentVolumeClaim is {phase}, "
                   "not Bound yet")


def readiness(states: Mapping[Target, NodeState | None], claims: Mapping[Target, str | None],
              refusals: Mapping[Target, str], held: Mapping[Target, Hold]
              ) -> tuple[dict[Target, NodeState | None], dict[Target, Pending]]:
    """(the states the status counts, the pending nodes): a succeeded copy whose claim is not
    Bound counts as not started yet (None), like a held one."""
    shown: dict[Target, NodeState | None] = {}
    pending: dict[Target, Pending] = {}
    for target, state in states.items():
        shown[target] = state
        if target in held:
            pending[target] = Pending(held[target].reason, held[target].message)
        elif state is not None and state.state == "succeeded":
            why = claim_pending(claims.get(target), refusals.get(target))
            if why is not None:
                shown[target], pending[target] = None, why
    return shown, pending


def with_pending(status: Obj, pending: Mapping[Target, Pending]) -> Obj:
    """The status with ``pendingNodes`` and, when any wait, the reasons in its message."""
    listed = [{"node": t.virtual_node, "cluster": t.cluster, "reason": p.reason,
               "message": p.message} for t, p in sorted(pending.items())]
    out = {**status, "pendingNodes": listed}
    if listed:
        reasons = sorted({p.reason for p in pending.values()})
        out["message"] = f"{status.get('message', '')}; {len(listed)} waiting " \
                         f"({', '.join(reasons)})"
    return out
