"""ClusterHealthy (ClusterFilter): no pod goes to an edge cluster that is not healthy.

Owns the health gate: a whole edge cluster is rejected at once, before any of
its nodes is looked at.
"""

from __future__ import annotations

import functools

from ..framework import ClusterFilterPlugin, CycleState, Status
from ..nodeinfo import NodeGroup
from ..podinfo import PodInfo


@functools.lru_cache(maxsize=1024)
def unhealthy(cluster: str) -> Status:
    """One reason per cluster, so "0/N nodes are available" names the lost cluster."""
    return Status.unschedulable(
        f"node(s) were in edge cluster {cluster}, which is unreachable or closed to new pods")


class ClusterHealthy(ClusterFilterPlugin):
    name = "clusterHealthy"
    order = 10

    def filter_group(self, state: CycleState, pod: PodInfo, group: NodeGroup) -> Status | None:
        return None if group.cluster.healthy else unhealthy(group.cluster.name)
