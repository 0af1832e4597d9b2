"""SpreadScore (PreScore, Score): spread one owner's replicas across edge clusters and regions.

Owns replica spreading. The snapshot counts, per owner (Deployment,
StatefulSet... see podinfo.owner_of), the real and assumed pods in each edge
cluster and region; a node scores by the replicas already in its cluster
plus those in its region (fewer is better), so a region with several
clusters fills more slowly. Pods without an owner are not scored.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np

from ..framework import (
    SKIP,
    CycleState,
    PreScorePlugin,
    ScorePlugin,
    StateKey,
    Status,
    default_normalize_score,
)
from ..nodearrays import IntArray, group_runs
from ..nodeinfo import NodeInfo
from ..podinfo import PodInfo

_EMPTY: Counter[str] = Counter()
COUNTS = StateKey[tuple[Counter[str], Counter[str]]]("spread.counts")


class SpreadScore(PreScorePlugin, ScorePlugin):
    name = "spread"
    order = 230
    weight = 2

    def pre_score(
        self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]
    ) -> Status | None:
        owners = state.snapshot.owners
        if pod.owner is None or pod.owner not in owners.by_cluster:
            return SKIP  # no replica placed yet: every node is as good
        by_region = owners.by_region.get(pod.owner, _EMPTY)
        state.write(COUNTS, (owners.by_cluster[pod.owner], by_region))
        return None

    def score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> list[int]:
        scores: list[int] = self.score_array(state, pod, nodes).tolist()
        return scores

    def normalize_array(self, state: CycleState, pod: PodInfo, scores: IntArray) -> IntArray:
        return scores  # as normalize_score()

    def score_array(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> IntArray:
        by_cluster, by_region = state.read(COUNTS)
        # A group is one cluster in one region: score (and normalize, which gives the
        # same result as per node) once per run of nodes of one group.
        starts, lengths = group_runs(state.snapshot.arrays, nodes)
        groups = [nodes[start].group for start in starts]
        scores = [by_cluster.get(g.cluster.name, 0) + by_region.get(g.region, 0) for g in groups]
        default_normalize_score(scores, reverse=True)
        return np.repeat(np.array(scores, dtype=np.int64), lengths)

    def normalize_score(self, state: CycleState, pod: PodInfo, scores: list[int]) -> None:
        """Done per group in score()."""
