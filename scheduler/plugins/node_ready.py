"""NodeReady (ShapeFilter): only nodes whose Ready condition is True take pods.

Owns readiness. The tenant's virtual nodes mirror edge nodes, and a pod bound
to a node that is not ready would just sit there.
"""

from __future__ import annotations

from ..framework import CycleState, ShapeFilterPlugin, Status
from ..podinfo import PodInfo
from ..shapes import NodeShape

NOT_READY = Status.unschedulable("node(s) were not ready")


class NodeReady(ShapeFilterPlugin):
    name = "nodeReady"
    order = 30

    def filter_shape(self, state: CycleState, pod: PodInfo, shape: NodeShape) -> Status | None:
        return None if shape.ready else NOT_READY
