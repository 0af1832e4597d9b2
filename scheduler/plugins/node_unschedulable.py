"""NodeUnschedulable (PreFilter, ShapeFilter): cordoned nodes (spec.unschedulable) take no new pods.

Owns the cordon rule of kube-scheduler's NodeUnschedulable: a pod that
tolerates the taint node.kubernetes.io/unschedulable:NoSchedule may still go there.
"""

from __future__ import annotations

from ..framework import SKIP, CycleState, Status
from ..nodeinfo import NodeShape
from ..podinfo import PodInfo
from ..taints import NO_SCHEDULE, Taint, is_tolerated

UNSCHEDULABLE_TAINT = Taint("node.kubernetes.io/unschedulable", "", NO_SCHEDULE)
CORDONED = Status.unschedulable("node(s) were unschedulable")


class NodeUnschedulable:
    name = "nodeUnschedulable"

    def pre_filter(self, state: CycleState, pod: PodInfo) -> Status | None:
        return SKIP if is_tolerated(UNSCHEDULABLE_TAINT, pod.tolerations) else None

    def filter_shape(self, state: CycleState, pod: PodInfo, shape: NodeShape) -> Status | None:
        return CORDONED if shape.unschedulable else None
