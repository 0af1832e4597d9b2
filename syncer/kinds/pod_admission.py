"""Pure rules for tenant pods the fusion scheduler does not place itself.

Owns: which pods fusionvc schedules (schedulerName default-scheduler or
fusionvc; other pods are the tenant's own scheduler's until it binds them);
whether a bound tenant pod was placed by fusionvc and ran (only such a pod
can be "lost" when its edge copy goes; a pod the tenant bound itself has
never run anywhere), and the kubelet-style reason a bound pod that cannot
run on the named node fails with (OutOfcpu, NodeAffinity...).
"""

from __future__ import annotations

from syncer.core import markers
from syncer.core.names import virtual_node_name
from syncer.kube import Obj
from syncer.placement import Unplaceable

FUSIONVC_SCHEDULERS = frozenset({"", "default-scheduler", "fusionvc"})
UNKNOWN_NODE_REASON = "NodeNotFound"


def scheduled_by_fusionvc(tpod: Obj) -> bool:
    return (tpod["spec"].get("schedulerName") or "") in FUSIONVC_SCHEDULERS


def was_placed(tpod: Obj) -> bool:
    """fusionvc bound the pod (its annotations name the edge node behind its nodeName) and
    an edge copy reported its start: only then can the pod be lost."""
    ann = tpod["metadata"].get("annotations") or {}
    cluster, node = ann.get(markers.EDGE_CLUSTER), ann.get(markers.EDGE_NODE)
    if not cluster or not node:
        return False
    if virtual_node_name(cluster, node) != tpod["spec"].get("nodeName"):
        return False
    return bool((tpod.get("status") or {}).get("startTime"))


def _reason(first: str) -> str:
    if first.startswith("Insufficient "):
        return "OutOf" + first.removeprefix("Insufficient ").rsplit("/", 1)[-1]
    if first == "Too many pods":
        return "OutOfpods"
    if "node affinity" in first or "arch" in first:
        return "NodeAffinity"
    if "taint" in first:
        return "Taint"
    if "unschedulable" in first or "not ready" in first:
        return "NodeNotReady" if "not ready" in first else "NodeUnschedulable"
    return "UnexpectedAdmissionError"


def admission_failure(decision: Unplaceable) -> tuple[str, str]:
    """(reason, message) of a bound pod that cannot run on the node it names."""
    if decision.unknown_node:
        return UNKNOWN_NODE_REASON, f"Pod was rejected: {decision.message}"
    first = min(decision.reasons) if decision.reasons else ""
    reasons = ", ".join(sorted(decision.reasons))
    return _reason(first), f"Pod was rejected: the node it names cannot run it: {reasons}"
