"""ConfigMaps: copied to the edge clusters whose pods use them (see dependents)."""

from __future__ import annotations

from syncer.kinds.dependents import DependentSyncer, dependent_watches
from syncer.kube.apis import CONFIGMAPS


class ConfigMapSyncer(DependentSyncer):
    kind = "ConfigMap"
    copied = resource = CONFIGMAPS
    index = "configmap"
    tenant_watches, edge_watches = dependent_watches(CONFIGMAPS, index)
