"""Services: copied to every edge cluster that runs pods the service selects.

The tenant keeps its own ClusterIP (the edge cluster allocates its own); the
tenant's endpoints come from its own controller-manager, which sees the edge
pod IPs and readiness that the pod syncer writes into tenant pod status.
NodePort and LoadBalancer services are written only when the tenant policy
allows them.
"""

from __future__ import annotations

from collections.abc import Iterable

import structlog

from syncer.core import markers
from syncer.core.conditions import same_condition, set_condition
from syncer.core.isolation import check_service, describe
from syncer.core.keys import WorkKey
from syncer.core.names import edge_namespace
from syncer.core.syncer import NameTaken, ResourceSyncer
from syncer.fleet.conn import EdgeConn, TenantConn, WatchSpec
from syncer.kinds.service_converge import serves_namespace, service_patch
from syncer.kube import Obj, json_copy
from syncer.kube.apis import PODS, SERVICES

log = structlog.get_logger(__name__)
EDGE_ALLOCATED = ("clusterIP", "clusterIPs", "healthCheckNodePort", "loadBalancerIP",
                  "externalIPs")
CONDITION = "fusionvc.io/Synced"


def translate_service_down(svc: Obj, *, tenant: str, edge_namespace: str) -> Obj:
    meta = svc["metadata"]
    spec = json_copy(svc["spec"])
    headless = spec.get("clusterIP") == "None"
    for name in EDGE_ALLOCATED:
        spec.pop(name, None)
    if headless:  # "None" is a mode, not an address the edge allocates
        spec["clusterIP"] = "None"
    for port in spec.get("ports") or []:
        port.pop("nodePort", None)
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items()
                   if not k.startswith("kubectl.kubernetes.io/")}
    annotations.update(markers.marker_annotations(svc))
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": meta["name"], "namespace": edge_namespace,
                         "labels": {**(meta.get("labels") or {}),
                                    **markers.marker_labels(tenant)},
                         "annotations": annotations},
            "spec": spec}


def selects(selector: dict[str, str] | None, labels: dict[str, str] | None) -> bool:
    if not selector:
        return False
    labels = labels or {}
    return all(labels.get(k) == v for k, v in selector.items())


def spec_differs(have: Obj, want: Obj) -> bool:
    h, w = have.get("spec") or {}, want["spec"]
    fields = ("selector", "type", "sessionAffinity", "publishNotReadyAddresses")
    if any(h.get(f) != w.get(f) for f in fields):
        return True
    strip = [{k: v for k, v in p.items() if k != "nodePort"} for p in h.get("ports") or []]
    return strip != (w.get("ports") or [])


def namespace_index(pod: Obj) -> list[str]:
    return [pod["metadata"]["namespace"]]


class ServiceSyncer(ResourceSyncer):
    kind = "Service"
    copied = SERVICES
    tenant_watches = (WatchSpec(SERVICES),)
    edge_watches = (WatchSpec(SERVICES, markers.MANAGED_SELECTOR,
                              (("tenant-key", markers.tenant_key_index),)),
                    WatchSpec(PODS, indexers=(("namespace", namespace_index),)))

    def tenant_event(self, tenant: TenantConn, watch: str, old: Obj | None,
                     new: Obj | None) -> Iterable[WorkKey]:
        obj = new or old
        assert obj is not None
        yield WorkKey(tenant.name, self.kind, obj["metadata"]["namespace"],
                      obj["metadata"]["name"])

    def edge_event(self, edge: EdgeConn, watch: str, old: Obj | None,
                   new: Obj | None) -> Iterable[WorkKey]:
        if watch != PODS.plural:
            return super().edge_event(edge, watch, old, new)
        obj = new or old
        assert obj is not None
        moved = old is None or new is None or old["metadata"].get("labels") != new[
            "metadata"].get("labels")
        tenant, ref = markers.tenant_of(obj), markers.tenant_ref(obj)
        tconn = self.ctx.tenants.get(tenant or "")
        if not moved or ref is None or tconn is None or not tconn.informers:
            return ()
        return self.pods_moved(tconn, ref[0])

    def pods_moved(self, tenant: TenantConn, namespace: str) -> Iterable[WorkKey]:
        """Services of a namespace whose pods appeared or left an edge cluster."""
        for svc in tenant.store(SERVICES):
            if svc["metadata"]["namespace"] == namespace and (
                    svc["spec"].get("selector") or serves_namespace(svc)):
                yield WorkKey(tenant.name, self.kind, namespace, svc["metadata"]["name"])

    def scan(self, tenant: TenantConn) -> Iterable[WorkKey]:
        return self.copied_keys(tenant)

    def wanted_edges(self, tenant: TenantConn, svc: Obj, ens: str) -> set[str]:
        selector = svc["spec"].get("selector")
        everywhere = serves_namespace(svc)  # ExternalName: wherever the namespace has pods
        return {edge.name for edge in self.ctx.edges.values() if edge.informers and any(
            everywhere or selects(selector, p["metadata"].get("labels"))
            for p in edge.store(PODS).by_index("namespace", ens))}

    async def reconcile(self, key: WorkKey) -> float | None:
        tenant = self.ctx.tenants.get(key.tenant)
        if tenant is None:
            return None
        svc = tenant.get(SERVICES, key.namespace, key.name)
        ens = edge_namespace(tenant.name, tenant.uid, key.namespace)
        wanted: set[str] = set()
        if svc is not None and not svc["metadata"].get("deletionTimestamp"):
            violations = check_service(svc, tenant.isolation)
            if violations:
                await self._reject(tenant, svc, describe(violations))
            else:
                wanted = self.wanted_edges(tenant, svc, ens)

        async def upsert(edge: EdgeConn, have: Obj | None) -> None:
            assert svc is not None
            await self._upsert(tenant, edge, svc, have)
        await self.converge_copies(tenant, SERVICES, key, wanted, upsert)
        return None

    async def _upsert(self, tenant: TenantConn, edge: EdgeConn, svc: Obj,
                      have: Obj | None) -> None:
        ens = await self.ctx.namespaces.ensure(tenant, edge, svc["metadata"]["namespace"])
        want = translate_service_down(svc, tenant=tenant.name, edge_namespace=ens)
        try:
            have = await self.adopt_or_create(tenant, edge, SERVICES, want, have)
        except NameTaken:
            await self.ctx.recorder.warn(tenant.client, {"kind": "Service", **svc}, "NameTaken",
                                         "an object not managed by fusionvc holds this name "
                                         "in an edge cluster")
            return
        patch = service_patch(have, want) if have is not None else None
        if patch is not None:
            await edge.client.patch(SERVICES, want["metadata"]["name"], patch, namespace=ens)

    async def _reject(self, tenant: TenantConn, svc: Obj, message: str) -> None:
        if same_condition(svc, CONDITION, "False", "Forbidden", message):
            return
        conditions = set_condition((svc.get("status") or {}).get("conditions"), CONDITION,
                                   "False", "Forbidden", message)
        meta = svc["metadata"]
        await tenant.client.patch(SERVICES, meta["name"], {"status": {"conditions": conditions}},
                                  namespace=meta["namespace"], subresource="status")
        await self.ctx.recorder.warn(tenant.client, {"kind": "Service", **svc}, "SyncRejected",
                                     message)
