"""What schedule() returns: a Placement, or Unschedulable with kube-scheduler's message.

Owns the wording of the unschedulable message: "0/N nodes are available: "
followed by "COUNT reason" for each reason, sorted by reason, joined by
", ", ending with ".". Each node counts under every reason returned by the
first filter it failed (as in kube-scheduler).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType


@dataclass(frozen=True, slots=True)
class Placement:
    cluster: str
    node: str
    region: str
    score: int  # the weighted sum of the normalized plugin scores
    feasible_nodes: int  # how many feasible nodes were scored
    evaluated_nodes: int  # how many nodes were looked at (see percentageOfNodesToScore)


@dataclass(frozen=True, slots=True)
class Unschedulable:
    message: str
    reasons: Mapping[str, int]  # reason -> number of nodes
    num_nodes: int
    # ClusterSnapshot.generation when the pod was tried: retry once it is higher.
    generation: int
    # The pod's spec.nodeName names no edge node at all (admission refuses it at once).
    unknown_node: bool = False


ScheduleResult = Placement | Unschedulable


def unavailable_message(num_nodes: int, reasons: Mapping[str, int]) -> str:
    head = f"0/{num_nodes} nodes are available"
    if not reasons:
        return head + "."
    counts = ", ".join(f"{reasons[reason]} {reason}" for reason in sorted(reasons))
    return f"{head}: {counts}."


def unschedulable(num_nodes: int, reasons: Mapping[str, int], generation: int) -> Unschedulable:
    return Unschedulable(
        unavailable_message(num_nodes, reasons),
        MappingProxyType(dict(reasons)),
        num_nodes,
        generation,
    )


def rejected_by_pre_filter(num_nodes: int, message: str, generation: int) -> Unschedulable:
    """kube-scheduler's wording when PreFilter rejects the pod before any node is looked at."""
    return Unschedulable(
        f"0/{num_nodes} nodes are available: {message}.",
        MappingProxyType({message: num_nodes}),
        num_nodes,
        generation,
    )


def unknown_node(name: str, generation: int) -> Unschedulable:
    """The pod's spec.nodeName is the name of no node the tenant can see or use."""
    message = f"spec.nodeName {name!r} names no virtual node of this tenant's fleet"
    return Unschedulable(message, MappingProxyType({message: 1}), 0, generation, True)
