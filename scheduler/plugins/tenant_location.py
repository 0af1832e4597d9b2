"""TenantLocation (ClusterFilter): the tenant's allowed clusters and regions, maximum latency.

Owns the hard location limits of a tenant's policy. Latency is measured from
the nearest of the tenant's user regions (ClusterState.latency_from); a
cluster without a latency entry for any user region fails a maximum latency.
Nodes outside these limits are not the tenant's to use: they are left out of
an Unschedulable message's node count and reasons (Code.NOT_FOR_TENANT).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..framework import ClusterFilterPlugin, CycleState, Status
from ..location import location_allows
from ..nodeinfo import NodeGroup
from ..podinfo import PodInfo

if TYPE_CHECKING:
    from ..policy import SchedulingPolicy

NOT_ALLOWED = Status.not_for_tenant("node(s) were outside the tenant's allowed locations")


class TenantLocation(ClusterFilterPlugin):
    name = "tenantLocation"
    order = 20

    def filter_group(self, state: CycleState, pod: PodInfo, group: NodeGroup) -> Status | None:
        return None if self.for_tenant(state.policy, group) else NOT_ALLOWED

    def for_tenant(self, policy: SchedulingPolicy, group: NodeGroup) -> bool:
        return location_allows(policy, group)
