"""Events: what edge clusters say about a tenant's pods and services, copied up.

An edge Event whose involved object is fusionvc's is written into the tenant
cluster with the object's tenant name, namespace and UID; repeats update the
count. Events about anything else in an edge cluster never leave it.
"""

from __future__ import annotations

from collections.abc import Iterable

from syncer.core import markers
from syncer.core.keys import WorkKey
from syncer.core.names import edge_namespace
from syncer.core.syncer import ResourceSyncer
from syncer.fleet.conn import EdgeConn, TenantConn, WatchSpec
from syncer.kube import Obj
from syncer.kube.apis import EVENTS, NAMESPACES, PODS, PVCS, SERVICES
from syncer.kube.client import KubeError

INVOLVED_KINDS = {"Pod": PODS, "Service": SERVICES, "PersistentVolumeClaim": PVCS}


def translate_event_up(event: Obj, tenant_obj: Obj) -> Obj:
    meta = tenant_obj["metadata"]
    involved = {"apiVersion": "v1", "kind": event["involvedObject"]["kind"],
                "name": meta["name"], "namespace": meta["namespace"], "uid": meta["uid"]}
    if event["involvedObject"].get("fieldPath"):
        involved["fieldPath"] = event["involvedObject"]["fieldPath"]
    out = {"apiVersion": "v1", "kind": "Event",
           "metadata": {"name": event["metadata"]["name"], "namespace": meta["namespace"],
                        "labels": {markers.MANAGED_BY: markers.MANAGED_BY_VALUE}},
           "involvedObject": involved}
    for field in ("reason", "message", "type", "count", "firstTimestamp", "lastTimestamp",
                  "eventTime", "action", "reportingComponent", "reportingInstance"):
        if event.get(field) is not None:
            out[field] = event[field]
    source = dict(event.get("source") or {})
    source.pop("host", None)  # the edge host name is not the tenant's business
    out["source"] = source
    return out


class EventSyncer(ResourceSyncer):
    kind = "Event"
    direction = "up"
    edge_watches = (WatchSpec(EVENTS),)

    def edge_event(self, edge: EdgeConn, watch: str, old: Obj | None,
                   new: Obj | None) -> Iterable[WorkKey]:
        if new is None or new.get("involvedObject", {}).get("kind") not in INVOLVED_KINDS:
            return
        ns = edge.get(NAMESPACES, "", new["metadata"]["namespace"])
        if ns is None:
            return
        tenant, ref = markers.tenant_of(ns), markers.tenant_ref(ns)
        if tenant and ref:
            yield WorkKey(tenant, self.kind, ref[1], new["metadata"]["name"])

    def _find(self, tenant: TenantConn, key: WorkKey) -> Obj | None:
        ens = edge_namespace(tenant.name, tenant.uid, key.namespace)
        for edge in self.ctx.edges.values():
            if edge.informers:
                event = edge.get(EVENTS, ens, key.name)
                if event is not None:
                    return event
        return None

    async def reconcile(self, key: WorkKey) -> float | None:
        tenant = self.ctx.tenants.get(key.tenant)
        if tenant is None:
            return None
        event = self._find(tenant, key)
        if event is None:
            return None
        involved = event["involvedObject"]
        tenant_obj = tenant.get(INVOLVED_KINDS[involved["kind"]], key.namespace, involved["name"])
        if tenant_obj is None:
            return None
        want = translate_event_up(event, tenant_obj)
        try:
            await tenant.client.create(EVENTS, want, namespace=key.namespace)
        except KubeError as err:
            if not err.conflict:
                raise
            await tenant.client.patch(EVENTS, key.name, {
                f: want.get(f) for f in ("count", "lastTimestamp", "message", "eventTime")
                if f in want}, namespace=key.namespace)
        return None
