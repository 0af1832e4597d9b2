"""Synced kinds: one module per kind, each with one ``ResourceSyncer`` subclass.

- ``pods`` (+ ``pod_translate``): ``PodSyncer``, down: placement, the edge pod,
  the binding, status up.
- ``configmaps``, ``secrets`` (+ ``dependents``): down: copies where pods use them.
- ``pod_secrets`` (+ ``pod_projection``, ``pod_tokens``): ``PodSecretSyncer``, down: each
  edge pod's own Secret of tenant values (tenant-issued tokens, the tenant's CA, downward
  API values), rotated, removed with the pod.
- ``pvcs``: ``PersistentVolumeClaimSyncer``, down: claims where their first pod runs, kept
  there; storage classes mapped per edge cluster; status up; limits where pods may go.
- ``services``: ``ServiceSyncer``, down: copies where selected pods run.
- ``namespaces``: ``NamespaceSyncer``, down: edge namespaces and their isolation objects.
- ``nodes``: ``VirtualNodeSyncer``, up: virtual nodes and their node Leases.
- ``events``: ``EventSyncer``, up: edge Events about the tenant's objects.
- ``servicedomains`` (+ ``servicedomain_translate``): ``ServiceDomainSyncer``: a tenant's
  exported hostnames checked against its zones, their sites, and the record the GSLB DNS
  server (``syncer/gslb``) answers from, published in the management cluster.
- ``runtimeclasses``: ``RuntimeClassSyncer``, down: tenant-scoped copies where the
  operator allows the handler; limits where pods naming one may be placed.
- ``registry_credentials``: ``RegistryCredentialSyncer``, down: the image pull Secret
  of the tenant's platform registries where its pods pull from them.
- ``imageprewarms`` (+ ``prewarm_translate``): ``ImagePrewarmSyncer``, down: one pull Job
  per target edge node, progress per cluster up (tenant kind edge.fusionvc.io).
- ``edgedatasets`` (+ ``dataset_translate``): ``EdgeDatasetSyncer``, down: one download Job
  per chosen edge node (``syncer/datasetfetch``), progress per cluster up (tenant kind);
  ``dataset_sources`` (url or OCI), ``dataset_oci`` (+ ``_work``: image-volume pulls and
  mounts), ``dataset_first_use`` (+ ``_gate``: the OnFirstUse strategy, with the pod syncer).
  ``edge_targets`` holds what these two node-pinned kinds share.

``BUILTIN_SYNCERS`` lists them, in the order they are built; a new kind is one
new module plus one line here (see docs/architecture.md, "How to add a kind").
"""

from __future__ import annotations

from syncer.core.syncer import ResourceSyncer
from syncer.kinds.configmaps import ConfigMapSyncer
from syncer.kinds.edgedatasets import EdgeDatasetSyncer
from syncer.kinds.events import EventSyncer
from syncer.kinds.imageprewarms import ImagePrewarmSyncer
from syncer.kinds.namespaces import NamespaceSyncer
from syncer.kinds.nodes import VirtualNodeSyncer
from syncer.kinds.pod_secrets import PodSecretSyncer
from syncer.kinds.pods import PodSyncer
from syncer.kinds.pvcs import PersistentVolumeClaimSyncer
from syncer.kinds.registry_credentials import RegistryCredentialSyncer
from syncer.kinds.runtimeclasses import RuntimeClassSyncer
from syncer.kinds.secrets import SecretSyncer
from syncer.kinds.servicedomains import ServiceDomainSyncer
from syncer.kinds.services import ServiceSyncer
from syncer.metricsdelivery.syncer import MetricsDeliverySyncer

BUILTIN_SYNCERS: tuple[type[ResourceSyncer], ...] = (
    NamespaceSyncer,
    VirtualNodeSyncer,
    ConfigMapSyncer,
    SecretSyncer,
    RuntimeClassSyncer,
    RegistryCredentialSyncer,
    ImagePrewarmSyncer,
    EdgeDatasetSyncer,
    ServiceSyncer,
    PodSecretSyncer,
    PersistentVolumeClaimSyncer,
    PodSyncer,
    EventSyncer,
    ServiceDomainSyncer,
    MetricsDeliverySyncer,  # syncer/metricsdelivery: remote write to the tenant's Prometheus
)

__all__ = ["BUILTIN_SYNCERS"]
