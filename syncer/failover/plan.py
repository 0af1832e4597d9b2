"""What failover does to each tenant pod and to each leftover edge pod (pure, table-tested).

``plan_pod``: for a tenant pod bound to an edge cluster that is not admitted,
whether to mark it NotReady, move it (ReplicaSet and Job pods after the grace
period; StatefulSet pods only once the cluster is declared out of service),
fail it (bare pods and other owners) or leave it waiting (DaemonSet pods,
StatefulSet pods before out-of-service). ``leftovers``: after a failover,
which edge pods on the returning cluster are copies of pods that no longer
run there (tenant pod gone, replaced by a new UID, failed by failover);
pods created after the loss are never chosen.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from enum import Enum

from syncer.core import markers
from syncer.core.conditions import set_condition
from syncer.kube import Obj

REASON = "EdgeClusterLost"
UNREACHABLE = "EdgeClusterUnreachable"
MOVING_OWNERS = ("ReplicaSet", "Job")
WAITING_OWNERS = ("DaemonSet",)
TERMINAL = ("Succeeded", "Failed")


class PodAction(Enum):
    NONE = "none"
    MARK_NOT_READY = "mark-not-ready"
    MOVE = "move"
    FAIL = "fail"
    WAIT = "wait"


def controller_kind(pod: Obj) -> str | None:
    for ref in pod["metadata"].get("ownerReferences") or []:
        if ref.get("controller"):
            kind = ref.get("kind")
            return kind if isinstance(kind, str) else None
    return None


def on_cluster(pod: Obj, edge: str) -> bool:
    return bool(pod["spec"].get("nodeName")) and (
        pod["metadata"].get("annotations") or {}).get(markers.EDGE_CLUSTER) == edge


def _marked_not_ready(pod: Obj) -> bool:
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return bool(cond.get("status") == "False" and cond.get("reason") == UNREACHABLE)
    return False


def plan_pod(pod: Obj, *, moving: bool, out_of_service: bool) -> PodAction:
    """The next step for a tenant pod on a cluster that is not admitted."""
    if (pod.get("status") or {}).get("phase") in TERMINAL or \
            pod["metadata"].get("deletionTimestamp"):
        return PodAction.NONE
    if moving or out_of_service:
        owner = controller_kind(pod)
        if owner in MOVING_OWNERS or (owner == "StatefulSet" and out_of_service):
            return PodAction.MOVE
        if owner is None or owner not in (*WAITING_OWNERS, "StatefulSet"):
            return PodAction.FAIL
    return PodAction.NONE if _marked_not_ready(pod) else PodAction.MARK_NOT_READY


def not_ready_conditions(pod: Obj, edge: str, since: str) -> list[Obj]:
    """The pod's conditions with Ready=False naming the edge cluster (Services drop it)."""
    message = f"edge cluster {edge} is unreachable since {since}"
    conds = set_condition((pod.get("status") or {}).get("conditions"), "Ready", "False",
                          UNREACHABLE, message)
    return set_condition(conds, "ContainersReady", "False", UNREACHABLE, message)


def disruption_conditions(pod: Obj, edge: str) -> list[Obj]:
    message = f"edge cluster {edge} is lost; the pod is replaced on a reachable cluster"
    return set_condition((pod.get("status") or {}).get("conditions"), "DisruptionTarget",
                         "True", REASON, message)


def failed_status(pod: Obj, edge: str) -> Obj:
    message = (f"edge cluster {edge} is lost and the pod has no controller that would "
               "replace it")
    return {"phase": "Failed", "reason": REASON, "message": message,
            "conditions": disruption_conditions(pod, edge)}


def _created(obj: Obj) -> float | None:
    stamp = obj["metadata"].get("creationTimestamp")
    if not isinstance(stamp, str):
        return None
    return dt.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def leftovers(edge: str, edge_pods: Iterable[Obj], tenant_pods: Mapping[str, Mapping[str, Obj]],
              lost_since: float) -> list[Obj]:
    """Edge pods (freshly listed) that are copies of pods no longer running on ``edge``.

    ``tenant_pods`` maps tenant -> tenant pod UID -> tenant pod, freshly listed; a tenant
    missing from it was not re-listed, and its pods are left alone."""
    chosen = []
    for epod in edge_pods:
        tenant, ref = markers.tenant_of(epod), markers.tenant_ref(epod)
        created = _created(epod)
        if not tenant or ref is None or tenant not in tenant_pods or created is None \
                or created >= lost_since or epod["metadata"].get("deletionTimestamp"):
            continue
        tpod = tenant_pods[tenant].get(ref[2])
        if tpod is None or not on_cluster(tpod, edge) or \
                (tpod.get("status") or {}).get("reason") == REASON:
            chosen.append(epod)
    return chosen
