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

from ..framework import (
    SKIP,
    CycleState,
    PreScorePlugin,
    ScorePlugin,
    StateKey,
    Status,
    default_normalize_score,
)
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
        by_cluster, by_region = state.read(COUNTS)
        # A group is one cluster in one region: score (and normalize, which gives the
        # same result as per node) once per group.
        groups = list({n.group for n in nodes})
        scores = [by_cluster.get(g.cluster.name, 0) + by_region.get(g.region, 0) for g in groups]
        default_normalize_score(scores, reverse=True)
        normalized = dict(zip(groups, scores, strict=True))
        return [normalized[n.group] for n in nodes]

    def normalize_score(self, state: CycleState, pod: PodInfo, scores: list[int]) -> None:
        """Done per group in score()."""
