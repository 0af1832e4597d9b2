"""ClusterHealthy (ClusterFilter): no pod goes to an edge cluster that is not healthy.

Owns the health gate: a whole edge cluster is rejected at once, before any of
its nodes is looked at.
"""

from __future__ import annotations

from ..framework import ClusterFilterPlugin, CycleState, Status
from ..nodeinfo import NodeGroup
from ..podinfo import PodInfo

UNHEALTHY = Status.unschedulable("node(s) were in an unhealthy edge cluster")


class ClusterHealthy(ClusterFilterPlugin):
    name = "clusterHealthy"
    order = 10

    def filter_group(self, state: CycleState, pod: PodInfo, group: NodeGroup) -> Status | None:
        return None if group.cluster.healthy else UNHEALTHY
