"""The last touches of an EdgeDataset's status (pure): the ``Ready`` condition every status
carries (reason: the phase, or ``InvalidSpec`` for a spec fusionvc cannot act on, e.g. an
OCI reference without a tag or digest), and why an OnFirstUse dataset has no copy yet."""

from __future__ import annotations

from syncer.core.conditions import set_condition
from syncer.kinds.dataset_first_use import is_first_use
from syncer.kinds.dataset_translate import DatasetSpec
from syncer.kube import Obj

FIRST_USE_PENDING = ("OnFirstUse: a copy is made on a node when a pod that names the dataset "
                     "is placed there")


def with_ready_condition(status: Obj, previous: Obj, reason: str | None = None) -> Obj:
    """``status`` with the Ready condition (True when the phase is Ready); ``previous`` is the
    status written before (its transition time is kept while Ready does not change)."""
    phase = str(status.get("phase") or "Pending")
    conditions = set_condition(previous.get("conditions"), "Ready",
                               "True" if phase == "Ready" else "False", reason or phase,
                               str(status.get("message") or ""))
    return {**status, "conditions": conditions}


def final_status(spec: DatasetSpec, status: Obj, previous: Obj) -> Obj:
    """The status to write for a valid spec."""
    if is_first_use(spec) and not status.get("desired"):
        status = {**status, "phase": "Pending", "message": FIRST_USE_PENDING}
    return with_ready_condition(status, previous)


def invalid_status(err: Exception, previous: Obj) -> Obj:
    return with_ready_condition({"phase": "Failed", "message": str(err)}, previous,
                                "InvalidSpec")
