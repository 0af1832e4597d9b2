"""GroupPlans: what the shape filters leave of each node group, kept across cycles.

Owns, for one Scheduler, per snapshot layout: one representative shape of each
ShapeKind in the fleet, and per distinct set of shape verdicts (the verdict of
every kind; shape filters depend on the shape's key, pod and policy only, so
pods alike share one) and per NodeGroup a GroupPlan: the nodes of its accepted
shapes in order with their numbers, and what its rejected shapes count (nodes
per reason, nodes the tenant may not use). A cycle then costs one lookup per
group instead of a walk over its shapes. Everything goes when the layout
changes (a node or group added, removed or changed, prices, cluster taints).
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .framework import Code, Status
from .nodearrays import Slots
from .nodeinfo import NodeGroup, NodeInfo
from .shapes import NodeShape, ShapeKind
from .snapshot import ClusterSnapshot

MAX_SIGNATURES = 64  # distinct verdict sets kept per layout; then all plans go
Verdict = Callable[[NodeShape], Status | None]


@dataclass(slots=True)
class GroupPlan:
    """One group under one set of shape verdicts."""

    nodes: list[NodeInfo]  # of its accepted shapes, in shape order
    slots: Slots  # their numbers
    ends: list[int]  # per accepted shape, how many of `nodes` end with it
    rejected_before: list[int]  # per accepted shape, nodes of rejected shapes before it
    rejected: int  # nodes of rejected shapes (the tenant's to use)
    not_for_tenant: int  # nodes of shapes the tenant may not use
    reasons: list[tuple[str, int]]  # nodes per reason of the rejected shapes

    def rejected_after(self, position: int) -> int:
        """Nodes of rejected shapes after the accepted shape holding node `position`
        (1-based in `nodes`): a cycle that stops there never looks at them."""
        return self.rejected - self.rejected_before[bisect_left(self.ends, position)]


def build_plan(group: NodeGroup, verdict: Verdict) -> GroupPlan:
    nodes: list[NodeInfo] = []
    parts: list[Slots] = []
    ends: list[int] = []
    before: list[int] = []
    rejected = not_for_tenant = 0
    reasons: Counter[str] = Counter()
    for shape in group.shapes.values():
        status = verdict(shape)
        size = len(shape.nodes)
        if status is None:
            before.append(rejected)
            nodes += shape.nodes
            parts.append(shape.node_slots())
            ends.append(len(nodes))
        elif status.code is Code.NOT_FOR_TENANT:
            not_for_tenant += size
        else:
            rejected += size
            for reason in status.reasons:
                reasons[reason] += size
    slots = np.concatenate(parts) if parts else np.zeros(0, dtype=np.intp)
    return GroupPlan(nodes, slots, ends, before, rejected, not_for_tenant, list(reasons.items()))


class GroupPlans:
    """Plans per verdict set and group, for one snapshot layout at a time."""

    def __init__(self) -> None:
        self._layout = -1
        self._kinds: dict[ShapeKind, NodeShape] = {}
        self._signatures: dict[tuple[Status | None, ...], dict[NodeGroup, GroupPlan]] = {}

    def for_cycle(self, snapshot: ClusterSnapshot, verdict: Verdict) -> dict[NodeGroup, GroupPlan]:
        """The plans (filled as groups are visited) of the verdicts this cycle gives."""
        if snapshot.layout_version != self._layout or len(self._signatures) > MAX_SIGNATURES:
            self._layout = snapshot.layout_version
            self._signatures = {}
            self._kinds = {
                shape.kind: shape
                for group in snapshot.node_groups()
                for shape in group.shapes.values()
            }
        signature = tuple(verdict(shape) for shape in self._kinds.values())
        return self._signatures.setdefault(signature, {})
