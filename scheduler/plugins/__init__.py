"""The built-in plugins, one module each; BUILTIN_PLUGINS is what default_registry() registers.

To add a plugin: write scheduler/plugins/<name>.py with a class that has a
`name` and the extension-point methods it implements (see
scheduler.framework), add the class to BUILTIN_PLUGINS, and put its name in
the profile (scheduler.profile.DEFAULT_PLUGIN_ORDER) with a weight if it scores.
"""

from __future__ import annotations

from ..registry import Registry
from .cluster_healthy import ClusterHealthy
from .cost import CostScore
from .image_locality import ImageLocality
from .latency import LatencyScore
from .node_affinity import NodeAffinity
from .node_arch import NodeArch
from .node_ready import NodeReady
from .node_resources_fit import NodeResourcesFit
from .node_unschedulable import NodeUnschedulable
from .resource_allocation import ResourceAllocationScore
from .spread import SpreadScore
from .taint_toleration import TaintToleration
from .tenant_location import TenantLocation

BUILTIN_PLUGINS = (
    ClusterHealthy,
    TenantLocation,
    NodeReady,
    NodeUnschedulable,
    NodeArch,
    NodeAffinity,
    TaintToleration,
    NodeResourcesFit,
    LatencyScore,
    CostScore,
    ResourceAllocationScore,
    SpreadScore,
    ImageLocality,
)


def default_registry() -> Registry:
    registry = Registry()
    for plugin in BUILTIN_PLUGINS:
        registry.register(plugin.name, plugin)
    return registry


__all__ = [
    "BUILTIN_PLUGINS",
    "ClusterHealthy",
    "CostScore",
    "ImageLocality",
    "LatencyScore",
    "NodeAffinity",
    "NodeArch",
    "NodeReady",
    "NodeResourcesFit",
    "NodeUnschedulable",
    "ResourceAllocationScore",
    "SpreadScore",
    "TaintToleration",
    "TenantLocation",
    "default_registry",
]
