"""CostScore (Score, GroupScore): prefer the node where the pod costs least per hour.

Owns the price preference. The pod's cost on a node is the node's price per
hour (annotation fusionvc.io/price-per-hour) times the pod's dominant share of
the node's allocatable (the largest of request/allocatable over the requested
resources, pods included). For a GPU pod that is the price of the GPUs it
takes; for a CPU pod the price of its cores or memory. A node without a price
costs its cluster's median price (0 when no node of the cluster has one).
Scores are relative to the cheapest candidate (100 for it, 50 for twice its
cost): scaling against the dearest one instead would squeeze every cheap node
to ~99 as soon as one GPU node is a candidate, and cost-first would no longer
pick the cheapest nodes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING

from ..framework import MAX_NODE_SCORE, CycleState, GroupScorePlugin, ScorePlugin
from ..nodeinfo import NodeGroup, NodeInfo
from ..podinfo import PodInfo

if TYPE_CHECKING:
    from ..policy import SchedulingPolicy

_MICRO = 1_000_000  # scores are integers: cost in millionths of a currency unit


def _dominant_share(pod: PodInfo, allocatable: Mapping[str, int]) -> float:
    """The largest fraction of the node's allocatable the pod requests, pods included.

    Only called for feasible nodes: they have every requested resource (capacity
    > 0) and room for the pod, so no division by zero, and the share is at most 1.
    """
    return max(amount / allocatable[name] for name, amount in pod.requests)


class CostScore(ScorePlugin, GroupScorePlugin):
    name = "cost"
    order = 210
    weight = 5
    mode_weights = MappingProxyType({"latency-first": 1, "cost-first": 10})

    def score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> list[int]:
        # Nodes of one kind share their allocatable mapping (nodeinfo interns it), and
        # candidates come shape by shape: reuse the pod's share while the mapping is the
        # same object, else look it up per mapping. Hot loop: keep it lean.
        shares: dict[int, float] = {}
        last: Mapping[str, int] | None = None
        share = 0.0
        scores: list[int] = []
        append = scores.append
        for node in nodes:
            allocatable = node.allocatable
            if allocatable is not last:
                last = allocatable
                kind = id(allocatable)
                found = shares.get(kind)
                if found is None:
                    found = shares[kind] = _dominant_share(pod, allocatable)
                share = found
            price = node.price
            if price is None:
                price = node.cluster.median_price
            append(int(_MICRO * price * share))
        return scores

    def normalize_score(self, state: CycleState, pod: PodInfo, scores: list[int]) -> None:
        relative_to_cheapest(scores)

    def score_groups(
        self, policy: SchedulingPolicy, groups: Sequence[NodeGroup]
    ) -> list[int] | None:
        scores = [round(_MICRO * g.min_price) for g in groups]
        relative_to_cheapest(scores)
        return scores


def relative_to_cheapest(scores: list[int]) -> None:
    """MAX_NODE_SCORE x cheapest / cost, in place (costs in millionths, +1 keeps free nodes)."""
    if not scores:
        return
    lowest = min(scores) + 1
    scores[:] = [MAX_NODE_SCORE * lowest // (raw + 1) for raw in scores]
