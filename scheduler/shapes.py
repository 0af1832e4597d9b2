"""Node shapes: the nodes of one group that share every fact a shape filter looks at.

Owns the shape key of a node (arch, NoSchedule/NoExecute taints, readiness,
cordon, the resources it has, and which of its taints its cluster lets every
tenant tolerate), its interned ShapeKind (the key shape filters' verdicts are
cached by within a cycle), and NodeShape, the nodes of a NodeGroup with one key.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

from .nodearrays import Slots
from .taints import Taint

if TYPE_CHECKING:
    from .nodeinfo import NodeFacts, NodeGroup, NodeInfo


# arch, hard taints, ready, cordoned, resources present, the keys of its taints that its
# cluster lets every tenant tolerate (EdgeCluster tolerableTaints)
ShapeKey = tuple[str, tuple[Taint, ...], bool, bool, frozenset[str], frozenset[str]]


class ShapeKind:
    """An interned shape key: equal keys share one object, hashed by identity (fast)."""

    __slots__ = ("key",)

    def __init__(self, key: ShapeKey) -> None:
        self.key = key


@lru_cache(maxsize=4096)
def shape_kind(key: ShapeKey) -> ShapeKind:
    """The ShapeKind of a key (after an eviction a second one may exist: still correct)."""
    return ShapeKind(key)


def shape_key(facts: NodeFacts, tolerable: frozenset[str] = frozenset()) -> ShapeKey:
    """tolerable: the taint keys the node's cluster lets every tenant tolerate."""
    return (
        facts.arch,
        facts.hard_taints,
        facts.ready,
        facts.unschedulable,
        frozenset(name for name, amount in facts.allocatable.items() if amount > 0),
        frozenset(t.key for t in facts.hard_taints if t.key in tolerable),
    )


class NodeShape:
    """Nodes of one group that share every fact a shape filter looks at.

    Those filters (readiness, cordon, arch, taints, which resources exist) run
    once per shape instead of once per node: most nodes of an edge cluster
    come in a few kinds.
    """

    __slots__ = (
        "arch",
        "group",
        "hard_taints",
        "key",
        "kind",
        "nodes",
        "platform_tolerable",
        "ready",
        "resources",
        "slots",
        "unschedulable",
    )

    def __init__(self, group: NodeGroup, key: ShapeKey) -> None:
        self.group = group
        self.key = key
        self.kind = shape_kind(key)
        self.arch, self.hard_taints, self.ready, self.unschedulable, self.resources = key[:5]
        self.platform_tolerable = key[5]  # taint keys its cluster lets tenants tolerate
        self.nodes: list[NodeInfo] = []
        # The nodes' numbers (index_id) in order, made by node_slots(); None when stale.
        self.slots: Slots | None = None

    def node_slots(self) -> Slots:
        """The nodes' numbers, in the order of `nodes` (kept until a node comes or goes)."""
        slots = self.slots
        if slots is None:
            nodes = self.nodes
            slots = self.slots = np.fromiter(
                (node.index_id for node in nodes), dtype=np.intp, count=len(nodes)
            )
        return slots
