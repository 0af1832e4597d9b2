"""The built-in plugins, one module each; BUILTIN_PLUGINS is what default_registry() registers.

To add a plugin: write scheduler/plugins/<name>.py with a class that inherits
the extension points it implements (scheduler.framework: PreFilterPlugin,
FilterPlugin, ScorePlugin...) and declares its `name`, its `order` in the
default profile and, if it scores, its default `weight` (and `mode_weights`);
then add the class to BUILTIN_PLUGINS. The default profile's order and the
policy modes' weights are read from these attributes.
"""

from __future__ import annotations

from ..registry import Registry
from .cluster_healthy import ClusterHealthy
from .cost import CostScore
from .dataset_ready import DatasetReady
from .image_locality import ImageLocality
from .inter_pod_affinity import InterPodAffinity
from .latency import LatencyScore
from .node_affinity import NodeAffinity
from .node_arch import NodeArch
from .node_ready import NodeReady
from .node_resources_fit import NodeResourcesFit
from .node_unschedulable import NodeUnschedulable
from .pod_topology_spread import PodTopologySpread
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
    DatasetReady,
    TaintToleration,
    NodeResourcesFit,
    PodTopologySpread,
    InterPodAffinity,
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
    "DatasetReady",
    "ImageLocality",
    "InterPodAffinity",
    "LatencyScore",
    "NodeAffinity",
    "NodeArch",
    "NodeReady",
    "NodeResourcesFit",
    "NodeUnschedulable",
    "PodTopologySpread",
    "ResourceAllocationScore",
    "SpreadScore",
    "TaintToleration",
    "TenantLocation",
    "default_registry",
]
