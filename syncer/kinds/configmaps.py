"""ConfigMaps: copied to the edge clusters whose pods use them (see dependents)."""

from __future__ import annotations

from syncer.core.syncer import register
from syncer.kinds.dependents import DependentSyncer, dependent_watches
from syncer.kube.apis import CONFIGMAPS


@register
class ConfigMapSyncer(DependentSyncer):
    kind = "ConfigMap"
    resource = CONFIGMAPS
    index = "configmap"
    tenant_watches, edge_watches = dependent_watches(CONFIGMAPS)
