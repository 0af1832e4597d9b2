"""TaintToleration (ShapeFilter, PreScore, Score): node taints against pod tolerations.

Owns taints: a NoSchedule or NoExecute taint the pod does not tolerate keeps
it off the node; PreferNoSchedule taints it does not tolerate only lower the
node's score (fewer is better), as in kube-scheduler.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from ..framework import SKIP, CycleState, Status, default_normalize_score
from ..nodeinfo import NodeInfo, NodeShape
from ..podinfo import PodInfo
from ..taints import Taint, first_untolerated, is_tolerated


@lru_cache(maxsize=1024)
def _untolerated(taint: Taint) -> Status:
    return Status.unschedulable(f"node(s) had untolerated taint {taint.describe()}")


class TaintToleration:
    name = "taintToleration"

    def filter_shape(self, state: CycleState, pod: PodInfo, shape: NodeShape) -> Status | None:
        taints = shape.hard_taints
        if not taints:
            return None
        taint = first_untolerated(taints, pod.tolerations)
        return None if taint is None else _untolerated(taint)

    def pre_score(
        self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]
    ) -> Status | None:
        return None if state.snapshot.has_soft_taints() else SKIP

    def score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> list[int]:
        tolerations = pod.tolerations
        return [
            sum(1 for t in n.facts.soft_taints if not is_tolerated(t, tolerations)) for n in nodes
        ]

    def normalize_score(self, state: CycleState, pod: PodInfo, scores: list[int]) -> None:
        default_normalize_score(scores, reverse=True)
