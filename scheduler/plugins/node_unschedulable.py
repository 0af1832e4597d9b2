"""NodeUnschedulable (ShapeFilter): cordoned edge nodes (spec.unschedulable) take no tenant pod.

Owns the cordon rule. Unlike kube-scheduler's NodeUnschedulable, a toleration
of node.kubernetes.io/unschedulable does not open a cordoned node: the edge
node is cordoned by the platform's operator, not by the tenant.
"""

from __future__ import annotations

from ..framework import CycleState, ShapeFilterPlugin, Status
from ..podinfo import PodInfo
from ..shapes import NodeShape

CORDONED = Status.unschedulable("node(s) were unschedulable")


class NodeUnschedulable(ShapeFilterPlugin):
    name = "nodeUnschedulable"
    order = 40

    def filter_shape(self, state: CycleState, pod: PodInfo, shape: NodeShape) -> Status | None:
        return CORDONED if shape.unschedulable else None
