"""Objects that follow pods to the edge: the shared logic of ConfigMaps and Secrets.

A copy exists in an edge cluster exactly while some tenant pod placed there
uses the object (volume, env, envFrom, projected source, image pull secret);
it follows the tenant's edits and is removed when the last such pod leaves.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

import structlog
from cachetools import TTLCache

from syncer.core import markers
from syncer.core.keys import WorkKey
from syncer.core.names import edge_namespace
from syncer.core.syncer import ResourceSyncer
from syncer.fleet.conn import EdgeConn, TenantConn, WatchSpec
from syncer.kube.apis import PODS, ResourceType
from syncer.kube.client import KubeError

log = structlog.get_logger(__name__)
Obj = dict[str, Any]
RECENT_TTL = 30.0
SYNCED_FIELDS = ("data", "binaryData", "stringData", "type", "immutable")


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


def tenant_key_index(obj: Obj) -> list[str]:
    tenant, ref = markers.tenant_of(obj), markers.tenant_ref(obj)
    return [f"{tenant}/{ref[0]}/{ref[1]}"] if tenant and ref else []


class DependentSyncer(ResourceSyncer):
    resource: ClassVar[ResourceType]
    index: ClassVar[str]  # the tenant pod index naming this kind's references

    def tenant_event(self, tenant: TenantConn, watch: str, old: Obj | None,
                     new: Obj | None) -> Iterable[WorkKey]:
        obj = new or old
        assert obj is not None
        meta = obj["metadata"]
        if self.copyable(obj) and tenant.store(PODS).by_index(
                self.index, f"{meta['namespace']}/{meta['name']}"):
            yield WorkKey(tenant.name, self.kind, meta["namespace"], meta["name"])

    def copyable(self, obj: Obj) -> bool:
        """Whether this tenant object may ever be written to an edge cluster."""
        return True

    def edge_event(self, edge: EdgeConn, watch: str, old: Obj | None,
                   new: Obj | None) -> Iterable[WorkKey]:
        obj = new or old
        assert obj is not None
        return self.marked_key(obj)

    def scan(self, tenant: TenantConn) -> Iterable[WorkKey]:
        """Objects some pod uses, and every copy on the edges."""
        used = {WorkKey(tenant.name, self.kind, *value.split("/", 1))
                for value in tenant.store(PODS).index_values(self.index)}
        return used | self.edge_copy_keys(tenant, self.resource)

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        # Copies made for a pod not yet visible in the edge cache: kept from removal.
        self._recent: TTLCache[tuple[str, str, str, str], bool] = TTLCache(
            maxsize=100_000, ttl=RECENT_TTL)

    def wanted_edges(self, tenant: TenantConn, namespace: str, name: str) -> set[str]:
        """Edge clusters running a live pod of this tenant that uses the object."""
        ens = edge_namespace(tenant.name, tenant.uid, namespace)
        return {edge.name for edge in self.ctx.edges.values() if edge.informers and any(
            not p["metadata"].get("deletionTimestamp")
            for p in edge.store(PODS).by_index(self.index, f"{ens}/{name}"))}

    def _just_copied(self, tenant: TenantConn, edge: EdgeConn, namespace: str,
                     name: str) -> bool:
        return (tenant.name, edge.name, namespace, name) in self._recent

    async def ensure_for_pod(self, tenant: TenantConn, edge: EdgeConn, pod: Obj) -> None:
        """Copies what the pod needs into the edge before the pod is created there."""
        from syncer.kinds.pods import dependency_refs
        ns = pod["metadata"]["namespace"]
        for name in dependency_refs(pod, self.kind):
            obj = tenant.get(self.resource, ns, name)
            if obj is not None and self.copyable(obj):
                self._recent[(tenant.name, edge.name, ns, name)] = True
                await self._upsert(tenant, edge, obj)

    async def _upsert(self, tenant: TenantConn, edge: EdgeConn, obj: Obj) -> None:
        meta = obj["metadata"]
        ens = await self.ctx.syncer("Namespace").ensure(  # type: ignore[attr-defined]
            tenant, edge, meta["namespace"])
        want = translate_dependent_down({"kind": self.resource.kind, **obj},
                                        tenant=tenant.name, edge_namespace=ens)
        have = edge.get(self.resource, ens, meta["name"])
        if have is None:
            try:
                await edge.client.create(self.resource, want, namespace=ens)
                return
            except KubeError as err:
                if not err.conflict:
                    raise
                have = await edge.client.get(self.resource, meta["name"], ens)
        if not markers.is_managed(have, tenant.name):
            raise KubeError(409, "NameTaken", f"{self.resource.kind} {ens}/{meta['name']} on "
                            f"{edge.name} exists and is not fusionvc's")
        if content_differs(have, want):
            want["metadata"]["resourceVersion"] = have["metadata"]["resourceVersion"]
            await edge.client.replace(self.resource, want)

    async def _upsert_or_report(self, tenant: TenantConn, edge: EdgeConn, obj: Obj) -> None:
        """A name held by a foreign object is the tenant's to know, not a retry loop's."""
        try:
            await self._upsert(tenant, edge, obj)
        except KubeError as err:
            if err.reason != "NameTaken":
                raise
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
        ens = edge_namespace(tenant.name, tenant.uid, key.namespace)
        again = None
        for edge in self.ctx.edges.values():
            if not edge.synced:
                continue
            have = edge.get(self.resource, ens, key.name)
            if edge.name in wanted and obj is not None:
                await self._upsert_or_report(tenant, edge, obj)
            elif self._just_copied(tenant, edge, key.namespace, key.name):
                again = RECENT_TTL  # its pod may not be in the edge cache yet: look again later
            elif have is not None and markers.is_managed(have, tenant.name):
                log.info("removing unused copy", tenant=tenant.name, edge=edge.name,
                         kind=self.kind, name=f"{ens}/{key.name}")
                await edge.client.delete(self.resource, key.name, ens,
                                         uid=have["metadata"]["uid"])
        return again


def dependent_watches(resource: ResourceType) -> tuple[tuple[WatchSpec, ...],
                                                       tuple[WatchSpec, ...]]:
    return ((WatchSpec(resource),),
            (WatchSpec(resource, markers.MANAGED_SELECTOR, (("tenant-key", tenant_key_index),)),))
