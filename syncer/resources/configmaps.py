"""ConfigMaps: copied to the edge clusters whose pods use them (see dependents)."""

from __future__ import annotations

from ..kube.resources import CONFIGMAPS
from .base import register
from .dependents import DependentSyncer, dependent_watches


@register
class ConfigMapSyncer(DependentSyncer):
    kind = "ConfigMap"
    resource = CONFIGMAPS
    index = "configmap"
    tenant_watches, edge_watches = dependent_watches(CONFIGMAPS)
