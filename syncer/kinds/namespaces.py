"""Edge namespaces: created on demand with the tenant's isolation, deleted with the tenant's.

Each tenant namespace that has something on an edge cluster gets one edge
namespace there (names.edge_namespace) carrying Pod Security labels at the
tenant's level, a ResourceQuota and LimitRange when the tenant policy sets
them, and a NetworkPolicy that admits traffic only from the same tenant.
"""

from __future__ import annotations

from collections.abc import Iterable

import structlog
from cachetools import TTLCache

from syncer.core import markers
from syncer.core.context import SyncContext
from syncer.core.keys import WorkKey
from syncer.core.names import edge_namespace
from syncer.core.single_flight import SingleFlight
from syncer.core.syncer import NameTaken, ResourceSyncer
from syncer.fleet.conn import EdgeConn, TenantConn, WatchSpec
from syncer.kube import Obj
from syncer.kube.apis import (
    LIMITRANGES,
    NAMESPACES,
    NETWORKPOLICIES,
    RESOURCEQUOTAS,
    ResourceType,
)
from syncer.kube.client import KubeError

log = structlog.get_logger(__name__)
QUOTA_NAME = "fusionvc-quota"
LIMITS_NAME = "fusionvc-defaults"
POLICY_NAME = "fusionvc-tenant-isolation"


def translate_namespace_down(tenant: TenantConn, namespace: Obj, edge_name: str) -> Obj:
    level = tenant.isolation.pod_security
    labels = {**markers.marker_labels(tenant.name),
              "pod-security.kubernetes.io/enforce": level,
              "pod-security.kubernetes.io/warn": level,
              "pod-security.kubernetes.io/audit": level}
    return {"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": edge_name, "labels": labels,
                         "annotations": markers.marker_annotations(namespace)}}


def isolation_objects(tenant: TenantConn, edge_name: str) -> list[tuple[ResourceType, Obj]]:
    """ResourceQuota, LimitRange and NetworkPolicy for one edge namespace (pure)."""
    meta = {"namespace": edge_name, "labels": markers.marker_labels(tenant.name)}
    objs: list[tuple[ResourceType, Obj]] = [(NETWORKPOLICIES, {
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": POLICY_NAME, **meta},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress"],
                 "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {
                     markers.TENANT: tenant.name}}}]}]}})]
    if tenant.spec.resource_quota:
        objs.append((RESOURCEQUOTAS, {
            "apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": QUOTA_NAME, **meta},
            "spec": {"hard": dict(tenant.spec.resource_quota)}}))
    if tenant.spec.default_limits:
        default = dict(tenant.spec.default_limits)
        objs.append((LIMITRANGES, {
            "apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": LIMITS_NAME, **meta},
            "spec": {"limits": [{"type": "Container", "default": default,
                                 "defaultRequest": default}]}}))
    return objs


class EdgeNamespaceTaken(NameTaken):
    """The edge namespace name of a tenant namespace is held by another namespace of the same
    tenant (names.py: a lookalike of a cut name); neither is overwritten nor deleted."""

    def __init__(self, namespace: str, holder: str, edge: str) -> None:
        super().__init__("Namespace", "", namespace, edge)
        self.holder = holder

    def for_tenant(self) -> str:
        return (f"namespace {self.name} maps to the same edge namespace as namespace "
                f"{self.holder}, which holds it; rename one of them")


def owner_namespace(edge_ns: Obj) -> str | None:
    """The tenant namespace an edge namespace was made for (its owner marker)."""
    ref = markers.tenant_ref(edge_ns)
    return ref[1] if ref else None


def tenant_ns_index(obj: Obj) -> list[str]:
    ref = markers.tenant_ref(obj)
    tenant = markers.tenant_of(obj)
    return [f"{tenant}/{ref[1]}"] if ref and tenant else []


class NamespaceSyncer(ResourceSyncer):
    kind = "Namespace"
    tenant_watches = (WatchSpec(NAMESPACES),)
    edge_watches = (WatchSpec(NAMESPACES, markers.MANAGED_SELECTOR,
                              (("tenant-namespace", tenant_ns_index),)),)

    def __init__(self, ctx: SyncContext) -> None:
        super().__init__(ctx)
        ctx.namespaces = self
        self._ensured: TTLCache[tuple[str, str], bool] = TTLCache(maxsize=50_000, ttl=300)
        # The first pods of a rollout all need their edge namespace: one worker makes it
        # while the others wait, instead of each of them getting 409s (core/single_flight).
        self._ensuring: SingleFlight[tuple[str, str], str] = SingleFlight()

    def tenant_event(self, tenant: TenantConn, watch: str, old: Obj | None,
                     new: Obj | None) -> Iterable[WorkKey]:
        obj = new or old
        assert obj is not None
        yield WorkKey(tenant.name, self.kind, "", obj["metadata"]["name"])

    def edge_event(self, edge: EdgeConn, watch: str, old: Obj | None,
                   new: Obj | None) -> Iterable[WorkKey]:
        obj = new or old
        assert obj is not None
        ref, tenant = markers.tenant_ref(obj), markers.tenant_of(obj)
        if new is None:
            self._ensured.pop((edge.name, obj["metadata"]["name"]), None)
        if ref and tenant:
            yield WorkKey(tenant, self.kind, "", ref[1])

    def scan(self, tenant: TenantConn) -> Iterable[WorkKey]:
        names = {o["metadata"]["name"] for o in tenant.store(NAMESPACES)}
        for edge in self.ctx.edges.values():
            for value in edge.store(NAMESPACES).index_values("tenant-namespace"):
                owner, _, ns = value.partition("/")
                if owner == tenant.name:
                    names.add(ns)
        return [WorkKey(tenant.name, self.kind, "", n) for n in names]

    async def ensure(self, tenant: TenantConn, edge: EdgeConn, namespace: str) -> str:
        """Creates the edge namespace (and its isolation objects) if needed; returns its name."""
        name = edge_namespace(tenant.name, tenant.uid, namespace)
        if self._ensured.get((edge.name, name)):
            return name
        return await self._ensuring.run((edge.name, name),
                                        lambda: self._make(tenant, edge, namespace, name))

    async def _make(self, tenant: TenantConn, edge: EdgeConn, namespace: str, name: str) -> str:
        tenant_ns = tenant.get(NAMESPACES, "", namespace)
        if tenant_ns is None or tenant_ns["metadata"].get("deletionTimestamp"):
            raise KubeError(409, "NamespaceTerminating", f"tenant namespace {namespace} is gone")
        await self._apply(tenant, edge, tenant_ns, name)
        self._ensured[(edge.name, name)] = True
        return name

    async def _apply(self, tenant: TenantConn, edge: EdgeConn, tenant_ns: Obj, name: str) -> None:
        want = translate_namespace_down(tenant, tenant_ns, name)
        have = await self.adopt_or_create(tenant, edge, NAMESPACES, want,
                                          edge.get(NAMESPACES, "", name))
        holder = owner_namespace(have) if have is not None else None
        if holder is not None and holder != tenant_ns["metadata"]["name"]:
            raise EdgeNamespaceTaken(tenant_ns["metadata"]["name"], holder, edge.name)
        if have is not None and have["metadata"].get("labels") != want["metadata"]["labels"]:
            await edge.client.patch(NAMESPACES, name, {"metadata": {
                "labels": want["metadata"]["labels"]}})
        for resource, obj in isolation_objects(tenant, name):
            await self._upsert(edge, resource, obj)

    async def _upsert(self, edge: EdgeConn, resource: ResourceType, obj: Obj) -> None:
        meta = obj["metadata"]
        try:
            await edge.client.create(resource, obj, namespace=meta["namespace"])
        except KubeError as err:
            if not err.conflict:
                raise
            await edge.client.patch(resource, meta["name"], {"spec": obj["spec"]},
                                    namespace=meta["namespace"])

    async def reconcile(self, key: WorkKey) -> float | None:
        tenant = self.ctx.tenants.get(key.tenant)
        if tenant is None:
            return None
        tenant_ns = tenant.get(NAMESPACES, "", key.name)
        if tenant_ns is not None and not tenant_ns["metadata"].get("deletionTimestamp"):
            return None  # edge namespaces are made on demand; nothing to remove
        name = edge_namespace(tenant.name, tenant.uid, key.name)
        for edge in self.ctx.edges.values():
            have = edge.get(NAMESPACES, "", name)
            if have is None or not markers.is_managed(have, tenant.name):
                continue
            if owner_namespace(have) not in (None, key.name):
                continue  # another namespace's (a lookalike name): never deleted for this one
            if not have["metadata"].get("deletionTimestamp"):
                log.info("deleting edge namespace", edge=edge.name, namespace=name)
                await edge.client.delete(NAMESPACES, name, uid=have["metadata"]["uid"])
            self._ensured.pop((edge.name, name), None)
        return None
