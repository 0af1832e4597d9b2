"""Objects that follow pods to the edge: the shared logic of ConfigMaps and Secrets.

A copy exists in an edge cluster exactly while some tenant pod placed there
uses the object (volume, env, envFrom, projected source, image pull secret);
it follows the tenant's edits and is removed when the last such pod leaves.
These syncers own the references from pods to their kind: they index pods by
them on both sides and react to pod events themselves.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

import structlog
from cachetools import TTLCache

from syncer.core import markers
from syncer.core.context import SyncContext
from syncer.core.keys import WorkKey
from syncer.core.names import edge_namespace
from syncer.core.syncer import NameTaken, ResourceSyncer
from syncer.fleet.conn import EdgeConn, TenantConn, WatchSpec
from syncer.kube import Obj
from syncer.kube.apis import PODS, ResourceType
from syncer.kube.store import IndexFunc

log = structlog.get_logger(__name__)
RECENT_TTL = 30.0
SYNCED_FIELDS = ("data", "binaryData", "stringData", "type", "immutable")
ROOT_CA_CONFIGMAP = "kube-root-ca.crt"
# Each edge pod's own Secret (pod_secrets), never a copy of a tenant object: its name is
# reserved (a tenant pod naming it is not placed), so the copies ignore it.
POD_SECRET_PREFIX = "fusionvc-pod-"
_REF_KEYS = {"ConfigMap": ("configMapKeyRef", "configMapRef", "configMap", "name"),
             "Secret": ("secretKeyRef", "secretRef", "secret", "secretName")}


def _container_refs(spec: Obj, ref_key: str, src_key: str) -> Iterable[str]:
    for group in ("initContainers", "containers", "ephemeralContainers"):
        for container in spec.get(group) or []:
            for env in container.get("env") or []:
                ref = (env.get("valueFrom") or {}).get(ref_key)
                if ref:
                    yield ref.get("name", "")
            for source in container.get("envFrom") or []:
                if src_key in source:
                    yield source[src_key].get("name", "")


def dependency_refs(pod: Obj, kind: str) -> set[str]:
    """Names of the ConfigMaps or Secrets a pod uses (volumes, env, envFrom, projected, pulls)."""
    spec, names = pod.get("spec") or {}, set()
    ref_key, src_key, vol_key, vol_name = _REF_KEYS[kind]
    for volume in spec.get("volumes") or []:
        if vol_key in volume:
            names.add(volume[vol_key].get(vol_name, ""))
        for source in (volume.get("projected") or {}).get("sources") or []:
            if vol_key in source:
                names.add(source[vol_key].get("name", ""))
    names.update(_container_refs(spec, ref_key, src_key))
    if kind == "Secret":
        names.update(s.get("name", "") for s in spec.get("imagePullSecrets") or [])
    names.discard("")
    names.discard(ROOT_CA_CONFIGMAP)  # every edge namespace has its own
    return names


def refs_index(kind: str) -> IndexFunc:
    """Index of pods by the objects of ``kind`` they use, as "<namespace>/<name>"."""
    return lambda p: [f"{p['metadata']['namespace']}/{n}" for n in dependency_refs(p, kind)]


def translate_dependent_down(obj: Obj, *, tenant: str, edge_namespace: str) -> Obj:
    meta = obj["metadata"]
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items()
                   if not k.startswith("kubectl.kubernetes.io/")}
    annotations.update(markers.marker_annotations(obj))
    out = {"apiVersion": "v1", "kind": obj.get("kind", ""),
           "metadata": {"name": meta["name"], "namespace": edge_namespace,
                        "labels": {**(meta.get("labels") or {}),
                                   **markers.marker_labels(tenant)},
                        "annotations": annotations}}
    out.update({f: obj[f] for f in SYNCED_FIELDS if f in obj})
    return out


def content_differs(have: Obj, want: Obj) -> bool:
    if any(have.get(f) != want.get(f) for f in SYNCED_FIELDS if f != "stringData"):
        return True
    return bool(have["metadata"].get("labels") != want["metadata"]["labels"])


def dependent_watches(resource: ResourceType, index: str) -> tuple[tuple[WatchSpec, ...],
                                                                   tuple[WatchSpec, ...]]:
    """The kind itself and pods indexed by their references to it, on both sides."""
    pods = WatchSpec(PODS, indexers=((index, refs_index(resource.kind)),))
    return ((WatchSpec(resource), pods),
            (WatchSpec(resource, markers.MANAGED_SELECTOR,
                       (("tenant-key", markers.tenant_key_index),)), pods))


class DependentSyncer(ResourceSyncer):
    resource: ClassVar[ResourceType]
    index: ClassVar[str]  # the pod index naming this kind's references

    def __init__(self, ctx: SyncContext) -> None:
        super().__init__(ctx)
        ctx.pod_dependents.append(self)
        # Copies made for a pod not yet visible in the edge cache: kept from removal.
        self._recent: TTLCache[tuple[str, str, str, str], bool] = TTLCache(
            maxsize=100_000, ttl=RECENT_TTL)

    def copyable(self, obj: Obj) -> bool:
        """Whether this tenant object may ever be written to an edge cluster."""
        return True

    # ---- events -> keys ----------------------------------------------------------------

    def keys_for_pod(self, tenant: str, pod: Obj) -> Iterable[WorkKey]:
        ns = pod["metadata"]["namespace"]
        for name in dependency_refs(pod, self.kind):
            yield WorkKey(tenant, self.kind, ns, name)

    def tenant_event(self, tenant: TenantConn, watch: str, old: Obj | None,
                     new: Obj | None) -> Iterable[WorkKey]:
        if watch == PODS.plural:  # a pod started or stopped using objects of this kind
            if old is None or new is None or old.get("spec") != new.get("spec"):
                for pod in (old, new):
                    if pod is not None:
                        yield from self.keys_for_pod(tenant.name, pod)
            return
        obj = new or old
        assert obj is not None
        meta = obj["metadata"]
        if self.copyable(obj) and tenant.store(PODS).by_index(
                self.index, f"{meta['namespace']}/{meta['name']}"):
            yield WorkKey(tenant.name, self.kind, meta["namespace"], meta["name"])

    def edge_event(self, edge: EdgeConn, watch: str, old: Obj | None,
                   new: Obj | None) -> Iterable[WorkKey]:
        if watch != PODS.plural:
            yield from super().edge_event(edge, watch, old, new)
        elif new is None and old is not None:  # what it used may now be unused there
            tenant, ref = markers.tenant_of(old), markers.tenant_ref(old)
            if tenant and ref:
                for name in dependency_refs(old, self.kind):
                    if not name.startswith(POD_SECRET_PREFIX):
                        yield WorkKey(tenant, self.kind, ref[0], name)

    def scan(self, tenant: TenantConn) -> Iterable[WorkKey]:
        """Objects some pod uses, and every copy on the edges."""
        used = {WorkKey(tenant.name, self.kind, *value.split("/", 1))
                for value in tenant.store(PODS).index_values(self.index)}
        return used | self.edge_copy_keys(tenant)

    # ---- reconcile ---------------------------------------------------------------------

    def wanted_edges(self, tenant: TenantConn, namespace: str, name: str) -> set[str]:
        """Edge clusters running a live pod of this tenant that uses the object."""
        ens = edge_namespace(tenant.name, tenant.uid, namespace)
        return {edge.name for edge in self.ctx.edges.values() if edge.informers and any(
            not p["metadata"].get("deletionTimestamp")
            for p in edge.store(PODS).by_index(self.index, f"{ens}/{name}"))}

    async def ensure_for_pod(self, tenant: TenantConn, edge: EdgeConn, pod: Obj) -> None:
        """Copies what the pod needs into the edge before the pod is created there."""
        ns = pod["metadata"]["namespace"]
        for name in dependency_refs(pod, self.kind):
            obj = tenant.get(self.resource, ns, name)
            if obj is not None and self.copyable(obj):
                self._recent[(tenant.name, edge.name, ns, name)] = True
                await self._upsert(tenant, edge, obj, edge.get(
                    self.resource, edge_namespace(tenant.name, tenant.uid, ns), name))

    async def _upsert(self, tenant: TenantConn, edge: EdgeConn, obj: Obj,
                      have: Obj | None) -> None:
        ens = await self.ctx.namespaces.ensure(tenant, edge, obj["metadata"]["namespace"])
        want = translate_dependent_down({"kind": self.resource.kind, **obj},
                                        tenant=tenant.name, edge_namespace=ens)
        have = await self.adopt_or_create(tenant, edge, self.resource, want, have)
        if have is not None and content_differs(have, want):
            want["metadata"]["resourceVersion"] = have["metadata"]["resourceVersion"]
            await edge.client.replace(self.resource, want)

    async def _upsert_or_report(self, tenant: TenantConn, edge: EdgeConn, obj: Obj,
                                have: Obj | None) -> None:
        """A name held by a foreign object is the tenant's to know, not a retry loop's."""
        try:
            await self._upsert(tenant, edge, obj, have)
        except NameTaken:
            await self.ctx.recorder.warn(tenant.client, {"kind": self.kind, **obj}, "NameTaken",
                                         "an object not managed by fusionvc holds this name in "
                                         "the edge cluster; it is not overwritten")

    async def reconcile(self, key: WorkKey) -> float | None:
        tenant = self.ctx.tenants.get(key.tenant)
        if tenant is None:
            return None
        obj = tenant.get(self.resource, key.namespace, key.name)
        if obj is not None and not self.copyable(obj):
            obj = None  # treated as absent: any copy found is removed
        wanted = self.wanted_edges(tenant, key.namespace, key.name) if obj else set()
        # Its pod may not be in that edge's cache yet: leave the copy, look again later.
        spare = frozenset(e for e in self.ctx.edges if e not in wanted and (
            tenant.name, e, key.namespace, key.name) in self._recent)

        async def upsert(edge: EdgeConn, have: Obj | None) -> None:
            assert obj is not None
            await self._upsert_or_report(tenant, edge, obj, have)
        await self.converge_copies(tenant, self.resource, key, wanted, upsert, spare)
        return RECENT_TTL if spare else None
