"""TaintToleration (ShapeFilter, PreScore, Score): edge node taints against pod tolerations.

Owns taints. Edge taints are the platform's: a pod's toleration counts only for
a taint whose key the tenant's policy lists in tolerableTaints (e.g.
nvidia.com/gpu) or the node's EdgeCluster lists in its own tolerableTaints (for
every tenant); every other NoSchedule or NoExecute taint keeps the tenant's
pods off the node whatever they tolerate (an `operator: Exists` toleration
does not open a node tainted for another tenant), and the message does not
reveal that taint. A tolerable NoSchedule or NoExecute taint the pod does not
tolerate keeps it off the node; PreferNoSchedule taints it may not or does not
tolerate only lower the node's score (fewer is better), as in kube-scheduler.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from ..framework import (
    SKIP,
    CycleState,
    PreScorePlugin,
    ScorePlugin,
    ShapeFilterPlugin,
    Status,
    default_normalize_score,
)
from ..nodeinfo import NodeInfo
from ..podinfo import PodInfo
from ..shapes import NodeShape
from ..taints import Taint, is_tolerated, untolerated

PLATFORM_TAINT = Status.unschedulable("node(s) had a taint the tenant may not tolerate")


@lru_cache(maxsize=1024)
def _untolerated(taint: Taint) -> Status:
    return Status.unschedulable(f"node(s) had untolerated taint {taint.describe()}")


class TaintToleration(ShapeFilterPlugin, PreScorePlugin, ScorePlugin):
    name = "taintToleration"
    order = 60
    weight = 3  # kube-scheduler's default

    def filter_shape(self, state: CycleState, pod: PodInfo, shape: NodeShape) -> Status | None:
        taints = shape.hard_taints
        if not taints:
            return None
        tolerable = state.policy.tolerable_taints | shape.platform_tolerable
        taint = untolerated(taints, pod.tolerations, tolerable)
        if taint is None:
            return None
        return _untolerated(taint) if taint.key in tolerable else PLATFORM_TAINT

    def pre_score(
        self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]
    ) -> Status | None:
        return None if state.snapshot.has_soft_taints() else SKIP

    def score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> list[int]:
        tolerations, tolerable = pod.tolerations, state.policy.tolerable_taints
        return [
            sum(
                1
                for t in n.facts.soft_taints
                if (t.key not in tolerable and t.key not in n.cluster.tolerable_taints)
                or not is_tolerated(t, tolerations)
            )
            for n in nodes
        ]

    def normalize_score(self, state: CycleState, pod: PodInfo, scores: list[int]) -> None:
        default_normalize_score(scores, reverse=True)
