"""LatencyScore (PreScore, Score, GroupScore): prefer nodes close to the tenant's users.

Owns the latency preference. A node's latency is its edge cluster's latency
from the nearest of the policy's userRegions (the cluster latency table);
lower is better, scaled against the worst candidate. Clusters with no entry
for any user region score like the worst one. Without userRegions the plugin
has no opinion.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING

import numpy as np

from ..framework import (
    SKIP,
    CycleState,
    GroupScorePlugin,
    PreScorePlugin,
    ScorePlugin,
    Status,
    default_normalize_score,
)
from ..nodearrays import IntArray, group_runs
from ..nodeinfo import ClusterState, NodeGroup, NodeInfo
from ..podinfo import PodInfo

if TYPE_CHECKING:
    from ..policy import SchedulingPolicy


def _raw_latencies(
    clusters: Iterable[ClusterState], user_regions: tuple[str, ...]
) -> dict[ClusterState, int]:
    """Latency in microseconds per cluster, unknown ones set to the worst known."""
    millis = {cluster: cluster.latency_from(user_regions) for cluster in clusters}
    worst = max((ms for ms in millis.values() if ms != math.inf), default=0.0)
    return {c: round(1000 * (worst if ms == math.inf else ms)) for c, ms in millis.items()}


class LatencyScore(PreScorePlugin, ScorePlugin, GroupScorePlugin):
    name = "latency"
    order = 200
    weight = 5
    mode_weights = MappingProxyType({"latency-first": 10, "cost-first": 1})

    def pre_score(
        self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]
    ) -> Status | None:
        return None if state.policy.user_regions else SKIP

    def score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> list[int]:
        scores: list[int] = self.score_array(state, pod, nodes).tolist()
        return scores

    def normalize_array(self, state: CycleState, pod: PodInfo, scores: IntArray) -> IntArray:
        return scores  # as normalize_score()

    def score_array(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> IntArray:
        # Normalized here per cluster rather than per node in normalize_score: same
        # result (the maximum over the clusters is the maximum over the nodes), less work;
        # computed once per run of nodes of one group.
        starts, lengths = group_runs(state.snapshot.arrays, nodes)
        of_runs = [nodes[start].cluster for start in starts]
        by_cluster = _raw_latencies(set(of_runs), state.policy.user_regions)
        clusters = list(by_cluster)
        scores = [by_cluster[c] for c in clusters]
        default_normalize_score(scores, reverse=True)
        normalized = dict(zip(clusters, scores, strict=True))
        return np.repeat(np.array([normalized[c] for c in of_runs], dtype=np.int64), lengths)

    def normalize_score(self, state: CycleState, pod: PodInfo, scores: list[int]) -> None:
        """Done per cluster in score()."""

    def score_groups(
        self, policy: SchedulingPolicy, groups: Sequence[NodeGroup]
    ) -> list[int] | None:
        if not policy.user_regions:
            return None
        by_cluster = _raw_latencies({g.cluster for g in groups}, policy.user_regions)
        scores = [by_cluster[g.cluster] for g in groups]
        default_normalize_score(scores, reverse=True)
        return scores
