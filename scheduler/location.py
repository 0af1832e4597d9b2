"""Where a tenant's policy lets its pods run: allowed clusters, regions, maximum latency.

Owns location_allows(), the rule TenantLocation filters with and the spread
constraints count domains by (nodes outside it are not the tenant's to use).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .nodeinfo import NodeGroup
    from .policy import SchedulingPolicy


def location_allows(policy: SchedulingPolicy, group: NodeGroup) -> bool:
    """Is the group within the policy's allowed clusters, regions and maximum latency?"""
    allowed_clusters = policy.allowed_clusters
    if allowed_clusters is not None and group.cluster.name not in allowed_clusters:
        return False
    if policy.allowed_regions is not None and group.region not in policy.allowed_regions:
        return False
    return (
        policy.max_latency_ms is None
        or group.cluster.latency_from(policy.user_regions) <= policy.max_latency_ms
    )
