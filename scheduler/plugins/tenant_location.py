"""TenantLocation (ClusterFilter): the tenant's allowed clusters and regions, maximum latency.

Owns the hard location limits of a tenant's policy. Latency is measured from
the nearest of the tenant's user regions (ClusterState.latency_from); a
cluster without a latency entry for any user region fails a maximum latency.
"""

from __future__ import annotations

from ..framework import CycleState, Status
from ..nodeinfo import NodeGroup
from ..podinfo import PodInfo

CLUSTER_NOT_ALLOWED = Status.unresolvable(
    "node(s) were in an edge cluster the tenant does not allow"
)
REGION_NOT_ALLOWED = Status.unresolvable("node(s) were in a region the tenant does not allow")
TOO_FAR = Status.unresolvable("node(s) exceeded the tenant's maximum latency")


class TenantLocation:
    name = "tenantLocation"

    def filter_group(self, state: CycleState, pod: PodInfo, group: NodeGroup) -> Status | None:
        policy = state.policy
        allowed_clusters = policy.allowed_clusters
        if allowed_clusters is not None and group.cluster.name not in allowed_clusters:
            return CLUSTER_NOT_ALLOWED
        if policy.allowed_regions is not None and group.region not in policy.allowed_regions:
            return REGION_NOT_ALLOWED
        if (
            policy.max_latency_ms is not None
            and group.cluster.latency_from(policy.user_regions) > policy.max_latency_ms
        ):
            return TOO_FAR
        return None
