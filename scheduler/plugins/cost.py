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

from collections.abc import Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING

import numpy as np

from ..framework import MAX_NODE_SCORE, CycleState, GroupScorePlugin, ScorePlugin
from ..nodearrays import IntArray, slots_of
from ..nodeinfo import NodeGroup, NodeInfo
from ..podinfo import PodInfo

if TYPE_CHECKING:
    from ..policy import SchedulingPolicy

_MICRO = 1_000_000  # scores are integers: cost in millionths of a currency unit


def _costs(state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> IntArray:
    """The pod's cost per node in millionths: price x the pod's dominant share.

    The dominant share is the largest fraction of the node's allocatable the pod
    requests, pods included. Only asked of feasible nodes: they have every requested
    resource (capacity > 0) and room for the pod, so the share is at most 1.
    """
    arrays = state.snapshot.arrays
    slots = slots_of(nodes)
    share = np.zeros(len(slots), dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        for name, amount in pod.requests:
            np.maximum(share, amount / arrays.allocatable_of(name)[slots], out=share)
    prices = arrays.price[slots]
    for index in np.flatnonzero(np.isnan(prices)).tolist():  # unpriced: the cluster's median
        prices[index] = nodes[index].cluster.median_price
    return (_MICRO * prices * share).astype(np.int64)


class CostScore(ScorePlugin, GroupScorePlugin):
    name = "cost"
    order = 210
    weight = 5
    mode_weights = MappingProxyType({"latency-first": 1, "cost-first": 10})

    def score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> list[int]:
        costs: list[int] = _costs(state, pod, nodes).tolist()
        return costs

    def normalize_score(self, state: CycleState, pod: PodInfo, scores: list[int]) -> None:
        relative_to_cheapest(scores)

    def score_array(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> IntArray:
        return _costs(state, pod, nodes)

    def normalize_array(self, state: CycleState, pod: PodInfo, scores: IntArray) -> IntArray:
        if not len(scores):
            return scores
        return MAX_NODE_SCORE * (int(scores.min()) + 1) // (scores + 1)

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
