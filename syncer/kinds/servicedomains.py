"""ServiceDomains: a tenant exports a Service under a hostname; fusionvc's GSLB DNS answers it.

Per ServiceDomain: check the claim (syncer.kinds.servicedomain_translate.claim; decided
only once every tenant's ServiceDomains have listed, so a restart cannot hand a hostname
to its younger claimant for a moment), count
the Service's ready pods on every reachable edge cluster, write ``status`` (sites,
conditions, and an Event on refusal), and publish the accepted ones as record
ConfigMaps in fusionvc's namespace of the management cluster, where the GSLB server
(syncer.gslb) reads them without any tenant credentials. A refused or deleted
ServiceDomain's record is removed; the drift scan also queues one sweep key per tenant
(empty namespace and name) that removes records whose ServiceDomain is gone (deleted
while no syncer ran). Edge pod readiness changes requeue the namespace's
ServiceDomains at once; every ServiceDomain is also revisited every ``REFRESH`` seconds,
which drops an edge cluster whose watch fails, settles claims freed elsewhere and
follows each site's load (measured usage over requests of its ready pods, from the
edges' metrics-server when the metrics API runs) against the water level.
"""

from __future__ import annotations

from collections.abc import Iterable

import orjson
import structlog

from syncer.core import markers
from syncer.core.conditions import same_condition, set_condition
from syncer.core.context import SyncContext
from syncer.core.keys import WorkKey
from syncer.core.names import edge_namespace, short_hash
from syncer.core.syncer import ResourceSyncer
from syncer.fleet.conn import EdgeConn, TenantConn, WatchSpec
from syncer.gslb.model import RECORD_KEY, RECORD_LABEL, normalize
from syncer.gslb.source import record_of
from syncer.kinds.servicedomain_translate import (
    Claimant,
    EdgeView,
    claim,
    load_metric,
    pod_ready,
    record,
    site_load,
    sites,
    water_level,
)
from syncer.kinds.services import selects
from syncer.kube import Obj
from syncer.kube.apis import CONFIGMAPS, PODS, SERVICEDOMAINS, SERVICES
from syncer.kube.client import KubeError

log = structlog.get_logger(__name__)
REFRESH = 3.0
CLAIMS_LOADING_RETRY = 1.0  # seconds: another tenant's ServiceDomains are still listing


def hostname_index(sd: Obj) -> list[str]:
    return [normalize(str((sd.get("spec") or {}).get("hostname", "")))]


def namespace_index(obj: Obj) -> list[str]:
    return [obj["metadata"]["namespace"]]


def record_name(tenant: str, namespace: str, name: str) -> str:
    return f"gslb-{short_hash(f'{tenant}/{namespace}/{name}', 20)}"


def _readiness_changed(old: Obj | None, new: Obj | None) -> bool:
    if old is None or new is None:
        return True
    return (pod_ready(old) != pod_ready(new)
            or old["metadata"].get("labels") != new["metadata"].get("labels"))


class ServiceDomainSyncer(ResourceSyncer):
    kind = "ServiceDomain"
    tenant_watches = (WatchSpec(SERVICEDOMAINS, indexers=(("hostname", hostname_index),
                                                          ("namespace", namespace_index))),
                      WatchSpec(SERVICES))
    edge_watches = (WatchSpec(PODS),)

    def __init__(self, ctx: SyncContext) -> None:
        super().__init__(ctx)
        self._published: dict[str, bytes] = {}  # record name -> data last written
        self._absent: set[str] = set()  # record names known deleted

    # ---- events -> keys ----------------------------------------------------------------

    def _keys_in(self, tenant: TenantConn, namespace: str,
                 service: str | None = None) -> Iterable[WorkKey]:
        if SERVICEDOMAINS.plural not in tenant.informers:
            return
        for sd in tenant.store(SERVICEDOMAINS).by_index("namespace", namespace):
            if service is None or sd["spec"].get("service") == service:
                yield WorkKey(tenant.name, self.kind, namespace, sd["metadata"]["name"])

    def tenant_event(self, tenant: TenantConn, watch: str, old: Obj | None,
                     new: Obj | None) -> Iterable[WorkKey]:
        obj = new or old
        assert obj is not None
        meta = obj["metadata"]
        if watch == SERVICEDOMAINS.plural:
            yield WorkKey(tenant.name, self.kind, meta["namespace"], meta["name"])
            # A freed or changed hostname may settle another tenant's claim.
            for other in self.ctx.tenants.values():
                if other is not tenant and SERVICEDOMAINS.plural in other.informers:
                    for sd in other.store(SERVICEDOMAINS).by_index(
                            "hostname", hostname_index(obj)[0]):
                        yield WorkKey(other.name, self.kind, sd["metadata"]["namespace"],
                                      sd["metadata"]["name"])
        else:  # a Service: its selector decides the pods
            yield from self._keys_in(tenant, meta["namespace"], meta["name"])

    def edge_event(self, edge: EdgeConn, watch: str, old: Obj | None,
                   new: Obj | None) -> Iterable[WorkKey]:
        obj = new or old
        assert obj is not None
        tenant_name, ref = markers.tenant_of(obj), markers.tenant_ref(obj)
        tenant = self.ctx.tenants.get(tenant_name or "")
        if tenant is None or ref is None or not _readiness_changed(old, new):
            return ()
        return self._keys_in(tenant, ref[0])

    def scan(self, tenant: TenantConn) -> Iterable[WorkKey]:
        if SERVICEDOMAINS.plural not in tenant.informers:
            return ()
        return [WorkKey(tenant.name, self.kind, "", ""),  # the sweep of stale records
                *(WorkKey(tenant.name, self.kind, sd["metadata"]["namespace"],
                          sd["metadata"]["name"]) for sd in tenant.store(SERVICEDOMAINS))]

    async def _sweep(self, tenant: TenantConn) -> None:
        """Deletes the tenant's records whose ServiceDomain no longer exists."""
        client = self.ctx.management
        if client is None or not tenant.synced:
            return
        selector = f"{RECORD_LABEL}=true,{markers.TENANT}={tenant.name}"
        found = await client.list(CONFIGMAPS, self.ctx.namespace, labelSelector=selector)
        for cm in found.get("items", []):
            rec = record_of(cm) or {}
            ref = (str(rec.get("namespace", "")), str(rec.get("name", "")))
            if all(ref) and tenant.get(SERVICEDOMAINS, *ref) is not None:
                continue
            name = cm["metadata"]["name"]
            await client.delete(CONFIGMAPS, name, self.ctx.namespace, uid=cm["metadata"]["uid"])
            self._published.pop(name, None)
            self._absent.add(name)
            log.info("stale GSLB record removed", record=name, servicedomain=f"{ref[0]}/{ref[1]}")

    # ---- reconcile ---------------------------------------------------------------------

    def _claimants(self, hostname: str, skip: tuple[str, str, str]) -> list[Claimant]:
        found = []
        for tenant in self.ctx.tenants.values():
            if SERVICEDOMAINS.plural not in tenant.informers:
                continue
            zones = tenant.spec.dns_zones
            for sd in tenant.store(SERVICEDOMAINS).by_index("hostname", hostname):
                meta = sd["metadata"]
                if (tenant.name, meta["namespace"], meta["name"]) != skip \
                        and not meta.get("deletionTimestamp"):
                    found.append(Claimant(tenant.name, meta["namespace"], meta["name"],
                                          meta.get("creationTimestamp", ""), zones))
        return found

    def _claims_loading(self, me: TenantConn) -> bool:
        """Another tenant's ServiceDomains are still listing (a restart): a claim decided now
        could give an older claimant's hostname to a younger one until they are listed. A
        tenant whose watch fails is not waited for (its claims stay unseen until it lists)."""
        for other in self.ctx.tenants.values():
            informer = other.informers.get(SERVICEDOMAINS.plural)
            if other is not me and informer is not None and not informer.synced.is_set() \
                    and not informer.last_error:
                return True
        return False

    def _edge_views(self, tenant: TenantConn, namespace: str, svc: Obj | None,
                    metric: str) -> list[EdgeView]:
        selector = (svc or {}).get("spec", {}).get("selector")
        ens = edge_namespace(tenant.name, tenant.uid, namespace)
        usage = self.ctx.pod_usage
        views = []
        for edge in self.ctx.edges.values():
            if PODS.plural not in edge.informers:
                continue
            ready = [] if not selector else [
                p for p in edge.store(PODS).by_index("namespace", ens)
                if markers.is_managed(p, tenant.name) and pod_ready(p)
                and selects(selector, p["metadata"].get("labels"))]
            load = None if usage is None else site_load(
                ((p, usage.usage(edge.name, ens, p["metadata"]["name"])) for p in ready), metric)
            views.append(EdgeView(edge.name, edge.region, edge.healthy, edge.entrance,
                                  len(ready), load))
        return views

    async def reconcile(self, key: WorkKey) -> float | None:
        tenant = self.ctx.tenants.get(key.tenant)
        if tenant is None or SERVICEDOMAINS.plural not in tenant.informers:
            return None
        if not key.name:
            await self._sweep(tenant)
            return None
        sd = tenant.get(SERVICEDOMAINS, key.namespace, key.name)
        name = record_name(key.tenant, key.namespace, key.name)
        if sd is None or sd["metadata"].get("deletionTimestamp"):
            await self._unpublish(name)
            return None
        hostname = normalize(str(sd["spec"].get("hostname", "")))
        if self._claims_loading(tenant):
            return CLAIMS_LOADING_RETRY  # its record, if any, is served as it was meanwhile
        me = Claimant(tenant.name, key.namespace, key.name,
                      sd["metadata"].get("creationTimestamp", ""),
                      tenant.spec.dns_zones)
        result = claim(hostname, me, self._claimants(hostname, (me.tenant, me.namespace,
                                                                me.name)))
        svc = tenant.get(SERVICES, key.namespace, str(sd["spec"].get("service", "")))
        previous = (sd.get("status") or {}).get("sites") or []
        views = self._edge_views(tenant, key.namespace, svc, load_metric(sd["spec"]))
        site_list = sites(views, previous,
                          water_level(sd["spec"])) if result.accepted else []
        await self._write_status(tenant, sd, result.accepted, result.reason, result.message,
                                 svc is not None, site_list)
        if not result.accepted:
            await self._unpublish(name)
            return REFRESH
        entrance = {e.name: e.entrance for e in self.ctx.edges.values()}
        await self._publish(name, tenant.name, sd, record(tenant.name, sd, result.zone,
                                                          site_list, entrance))
        return REFRESH

    async def _write_status(self, tenant: TenantConn, sd: Obj, accepted: bool, reason: str,
                            message: str, has_service: bool, site_list: list[Obj]) -> None:
        ready = ("Ready", "True", "SitesReady", f"{len(site_list)} site(s) with ready replicas")
        if not accepted:
            ready = ("Ready", "False", "NotAccepted", "the hostname is not exported")
        elif not has_service:
            ready = ("Ready", "False", "ServiceNotFound",
                     f"Service {sd['spec'].get('service')} not found in this namespace")
        elif not site_list:
            ready = ("Ready", "False", "NoReadyReplicas",
                     "no reachable edge site runs a ready pod of the Service")
        wanted = [("Accepted", "True" if accepted else "False", reason, message), ready]
        status = sd.get("status") or {}
        meta = sd["metadata"]
        if (all(same_condition(sd, *c) for c in wanted) and status.get("sites") == site_list
                and status.get("observedGeneration") == meta.get("generation")):
            return
        conds = status.get("conditions")
        for cond in wanted:
            conds = set_condition(conds, *cond)
        body = {"status": {"observedGeneration": meta.get("generation"), "conditions": conds,
                           "sites": site_list, "siteCount": len(site_list)}}
        try:
            await tenant.client.patch(SERVICEDOMAINS, meta["name"], body,
                                      namespace=meta["namespace"], subresource="status")
        except KubeError as err:
            if not err.not_found:
                raise
        if not accepted and not same_condition(sd, *wanted[0]):
            await self.ctx.recorder.warn(tenant.client, {"kind": "ServiceDomain",
                                                         "apiVersion": SERVICEDOMAINS.api_version,
                                                         **sd}, reason, message)

    async def _publish(self, name: str, tenant: str, sd: Obj, rec: Obj) -> None:
        client = self.ctx.management
        data = orjson.dumps(rec, option=orjson.OPT_SORT_KEYS)
        if client is None or self._published.get(name) == data:
            return
        cm = {"apiVersion": "v1", "kind": "ConfigMap",
              "metadata": {"name": name, "namespace": self.ctx.namespace,
                           "labels": {RECORD_LABEL: "true", **markers.marker_labels(tenant)},
                           "annotations": markers.marker_annotations(sd)},
              "data": {RECORD_KEY: data.decode()}}
        try:
            await client.create(CONFIGMAPS, cm, namespace=self.ctx.namespace)
        except KubeError as err:
            if not err.conflict:
                raise
            await client.patch(CONFIGMAPS, name, {"metadata": cm["metadata"], "data": cm["data"]},
                               namespace=self.ctx.namespace)
        self._published[name] = data
        self._absent.discard(name)

    async def _unpublish(self, name: str) -> None:
        client = self.ctx.management
        if client is None:
            return
        if name in self._absent:
            return
        await client.delete(CONFIGMAPS, name, self.ctx.namespace)
        self._published.pop(name, None)
        self._absent.add(name)
