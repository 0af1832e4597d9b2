"""Management: Tenant and EdgeCluster objects (and their kubeconfig Secrets) become connections.

Adding a Tenant or EdgeCluster connects to it and starts its informers
without a restart; editing its Secret reconnects; deleting it stops them (and,
for a Tenant, first removes everything fusionvc wrote for it on every edge
cluster, guarded by a finalizer). Each object's status says whether fusionvc
reaches the cluster (Ready, reason, message, time) and whether the tenant's
scheduling policy is valid; an invalid policy leaves the previous one in force.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import structlog

from scheduler import PolicyError, parse_policy
from syncer.core import markers
from syncer.core.conditions import (
    get_condition,
    now_rfc3339,
    same_condition,
    set_condition,
)
from syncer.core.context import SyncContext
from syncer.core.controller import Controller
from syncer.core.keys import WorkKey
from syncer.failover.gate import GatedClient
from syncer.failover.monitor import FailoverMonitor
from syncer.fleet.conn import ClusterConn, EdgeConn, TenantConn
from syncer.fleet.connect import ConnectError, connect, kubeconfig_from_secret
from syncer.fleet.registries import (
    REGISTRY_CREDENTIALS_KIND,
    registry_condition,
    resolve_registry_auths,
)
from syncer.fleet.specs import parse_edge_spec, parse_tenant_spec, secret_key_ref
from syncer.fleet.tenant_crds import TenantCRDs
from syncer.kube import Obj
from syncer.kube.apis import EDGECLUSTERS, NAMESPACES, NODES, PODS, SECRETS, TENANTS, ResourceType
from syncer.kube.client import KubeClient, KubeError
from syncer.kube.informer import Informer
from syncer.kube.store import Store
from syncer.ops.metrics import Metrics
from syncer.placement import Placer

log = structlog.get_logger(__name__)
FINALIZER = "fusionvc.io/cleanup"
SYSTEM = ""  # the work-queue "tenant" of management keys
REFRESH_TENANT, REFRESH_EDGE = 15.0, 5.0
REFRESH_LOADING = 1.0  # while a connection's informers load: status and metrics follow soon


def only_status_changed(old: Obj, new: Obj) -> bool:
    """Same generation (spec) and the same metadata fusionvc acts on: a status write. During
    a rollout each Tenant status write (syncedPods) requeued the Tenant, whose next write
    requeued it again: a write a second per tenant instead of one per refresh."""
    o, n = old["metadata"], new["metadata"]
    return all(o.get(f) == n.get(f) for f in ("generation", "labels", "annotations",
                                              "deletionTimestamp", "finalizers", "uid"))


def _fingerprint(obj: Obj, secret: Obj | None) -> tuple[str, str]:
    return obj["metadata"]["uid"], (secret or {}).get("metadata", {}).get("resourceVersion", "")


class Management:
    def __init__(self, client: KubeClient, namespace: str, ctx: SyncContext,
                 controller: Controller, placer: Placer, metrics: Metrics) -> None:
        self.client, self.namespace, self.ctx = client, namespace, ctx
        self.controller, self.placer, self.metrics = controller, placer, metrics
        self.fingerprints: dict[tuple[str, str], tuple[str, str]] = {}
        self._tried: set[str] = set()  # uids of the Tenants and EdgeClusters tried to connect
        self.tenant_crds = TenantCRDs()  # tenant-facing CRDs (config/crd/tenant)
        ctx.management, ctx.namespace = client, namespace
        ctx.fleet_known = self.fleet_known
        self._fleet_known = False  # latched: asked before every tenant reconcile
        self.tenant_connected: list[Callable[[TenantConn], None]] = []  # e.g. the metrics API
        self.informers = {
            "Tenant": Informer(client, TENANTS, Store()),
            "EdgeCluster": Informer(client, EDGECLUSTERS, Store()),
            "Secret": Informer(client, SECRETS, Store(), namespace=namespace),
        }
        for kind in ("Tenant", "EdgeCluster"):
            self.informers[kind].add_handler(functools.partial(self._object_changed, kind))
        self.informers["Secret"].add_handler(self._secret_changed)
        controller.add_reconciler("Tenant", self.reconcile_tenant)
        controller.add_reconciler("EdgeCluster", self.reconcile_edge)
        # Failover (syncer/failover/): reachability of every EdgeCluster, and the gate on it.
        self.failover = FailoverMonitor(
            ctx, metrics, requeue_all=controller.scan_once,
            known=self._edge_cluster_known)
        ctx.admission = self.failover

    def _object_changed(self, kind: str, _type: str, old: Obj | None, new: Obj | None) -> None:
        obj = new or old
        assert obj is not None
        if old is not None and new is not None and only_status_changed(old, new):
            return  # fusionvc's own status write: reconciling it again would write again
        self.ctx.queue.add(WorkKey(SYSTEM, kind, "", obj["metadata"]["name"]))

    def _secret_changed(self, _type: str, old: Obj | None, new: Obj | None) -> None:
        name = (new or old or {})["metadata"]["name"]
        for kind in ("Tenant", "EdgeCluster"):
            for obj in self.informers[kind].store:
                if secret_key_ref(obj.get("spec") or {}).name == name or (
                        kind == "Tenant" and any(r.credentials_secret == name for r in
                                                 parse_tenant_spec(obj["spec"]).registries)):
                    self.ctx.queue.add(WorkKey(SYSTEM, kind, "", obj["metadata"]["name"]))

    def _edge_cluster_known(self, name: str) -> bool:
        """An EdgeCluster of that name exists (or the list is not loaded yet: assume so)."""
        informer = self.informers["EdgeCluster"]
        return not informer.synced.is_set() or informer.store.get("", name) is not None

    @property
    def synced(self) -> bool:
        return all(i.synced.is_set() for i in self.informers.values())

    @property
    def clusters_tried(self) -> bool:
        """Every Tenant and EdgeCluster in the caches had its connection tried (made, or
        refused with the reason in its status). Before that there are no connections, and
        "every connection's informers synced" holds for none: a restarted leader answered
        /readyz before it had listed a single pod (issue 16, part 5)."""
        return all(obj["metadata"]["uid"] in self._tried
                   for kind in ("Tenant", "EdgeCluster") for obj in self.informers[kind].store
                   if not obj["metadata"].get("deletionTimestamp"))

    def fleet_known(self) -> bool:
        """Since start, the management caches loaded and every cluster in them was tried:
        the edges connected are all the edges there are (SyncContext.fleet_known). It then
        stays true: a cluster added later has nothing of any tenant on it yet, and waiting
        for its connection would pause every tenant for an operator's typo."""
        if not self._fleet_known:
            self._fleet_known = self.synced and self.clusters_tried
        return self._fleet_known

    # ---- shared ------------------------------------------------------------------------

    async def _connection(self, kind: str, obj: Obj) -> KubeClient | None:
        """A new client when the object is new or its Secret changed; None when unchanged."""
        name, ref = obj["metadata"]["name"], secret_key_ref(obj.get("spec") or {})
        secret = self.informers["Secret"].store.get(self.namespace, ref.name)
        fingerprint = _fingerprint(obj, secret)
        if self.fingerprints.get((kind, name)) == fingerprint:
            return None
        try:
            kubeconfig = kubeconfig_from_secret(secret, ref, self.namespace)
            client = await connect(name, kubeconfig, self.client.timeout, self.ctx.write_limiter)
        except ConnectError:
            self._tried.add(obj["metadata"]["uid"])  # refused: its status says why
            raise
        conns: dict[str, Any] = self.ctx.tenants if kind == "Tenant" else self.ctx.edges
        await self._drop(kind, conns, name)  # the old connection, if any
        self.fingerprints[(kind, name)] = fingerprint
        return client

    async def _set_status(self, rt: ResourceType, obj: Obj, ready: bool, reason: str,
                          message: str, extra: Obj | None = None,
                          more: tuple[tuple[str, str, str, str], ...] = ()) -> None:
        status = obj.get("status") or {}
        wanted = [("Ready", "True" if ready else "False", reason, message), *more]
        unchanged = all(same_condition(obj, *c) for c in wanted) and all(
            status.get(k) == v for k, v in (extra or {}).items())
        if unchanged and status.get("observedGeneration") == obj["metadata"].get("generation"):
            return
        conds = status.get("conditions")
        now = now_rfc3339()
        for ctype, cstatus, creason, cmessage in wanted:
            conds = set_condition(conds, ctype, cstatus, creason, cmessage, now)
        body = {"status": {"conditions": conds,
                           "observedGeneration": obj["metadata"].get("generation"),
                           **(extra or {})}}
        try:
            await self.client.patch(rt, obj["metadata"]["name"], body, subresource="status")
        except KubeError as err:
            if not err.not_found:
                raise

    async def _drop(self, kind: str, conns: dict[str, Any], name: str) -> None:
        conn: ClusterConn | None = conns.pop(name, None)
        self.fingerprints.pop((kind, name), None)
        if conn is not None:
            await conn.stop()
            self.metrics.forget_cluster(name)

    # ---- tenants -----------------------------------------------------------------------

    async def reconcile_tenant(self, key: WorkKey) -> float | None:
        obj = self.informers["Tenant"].store.get("", key.name)
        if obj is None:
            await self._drop("Tenant", self.ctx.tenants, key.name)
            return None
        if obj["metadata"].get("deletionTimestamp"):
            await self._delete_tenant(obj)
            return None
        if FINALIZER not in (obj["metadata"].get("finalizers") or []):
            await self.client.patch(TENANTS, key.name, {"metadata": {"finalizers": [
                *(obj["metadata"].get("finalizers") or []), FINALIZER]}})
        try:
            client = await self._connection("Tenant", obj)
        except ConnectError as err:
            self.metrics.cluster_reachable.labels(key.name, "tenant").set(0)
            await self._set_status(TENANTS, obj, False, err.reason, err.message)
            return REFRESH_TENANT
        if client is not None:
            await self._install_crds(key.name, client)
            conn = TenantConn(key.name, "tenant", client, uid=obj["metadata"]["uid"])
            self.ctx.tenants[key.name] = conn
            self.controller.start_tenant(conn)
            self._tried.add(obj["metadata"]["uid"])
            log.info("tenant connected", tenant=key.name)
            for hook in self.tenant_connected:
                hook(conn)
        conn = self.ctx.tenants[key.name]
        await self.tenant_crds.ensure(conn.client)  # a retry when the first attempt failed
        policy_cond = self._apply_policy(conn, obj)
        ready, reason, message = self._health(conn, obj)
        self._report_reachable(conn, "tenant", conn.healthy)
        pods = sum(1 for p in conn.store(PODS) if p["spec"].get("nodeName")) if conn.synced else 0
        self.controller.count_managed(key.name)
        await self._set_status(TENANTS, obj, ready, reason, message, {"syncedPods": pods},
                               (policy_cond, self._resolve_registries(conn)))
        return REFRESH_TENANT if conn.synced else REFRESH_LOADING

    async def _install_crds(self, name: str, client: KubeClient) -> None:
        """fusionvc's CRDs in a newly connected tenant, before the informers that watch them.
        On failure the new client is closed and forgotten, so the retry connects again
        (else its fingerprint would say connected, with no connection behind it)."""
        try:
            await self.tenant_crds.ensure(client)
        except BaseException:
            self.fingerprints.pop(("Tenant", name), None)
            await client.close()
            raise

    def _apply_policy(self, conn: TenantConn, obj: Obj) -> tuple[str, str, str, str]:
        conn.spec = parse_tenant_spec(obj["spec"])
        try:
            before = conn.scheduling
            conn.scheduling = parse_policy(conn.spec.scheduling, self.placer.known_regions(),
                                           self.placer.score_plugin_names())
            if before is not None and conn.scheduling != before:
                self.placer.policy_changed()
        except PolicyError as err:
            kept = "the previous valid policy stays in force" if conn.scheduling else \
                "the default policy is used"
            return ("PolicyValid", "False", "InvalidPolicy", f"{err}; {kept}")
        return ("PolicyValid", "True", "Valid", "scheduling policy accepted")

    def _resolve_registries(self, conn: TenantConn) -> tuple[str, str, str, str]:
        """Registry credentials from the management Secrets; their edge copies follow."""
        secrets = self.informers["Secret"].store
        resolved = resolve_registry_auths(conn.spec.registries,
                                          lambda name: secrets.get(self.namespace, name))
        changed = resolved.auths != conn.registry_auths.auths
        conn.registry_auths = resolved
        if changed:
            self.ctx.queue.add(WorkKey(conn.name, REGISTRY_CREDENTIALS_KIND, "", ""))
        return registry_condition(conn.spec.registries, resolved)

    def _report_reachable(self, conn: ClusterConn, role: str, up: bool) -> None:
        """While a new connection's first lists are in flight nothing has answered or failed
        yet: the gauge waits for an answer instead of reporting an unreachable cluster."""
        if conn.synced or conn.last_error():
            self.metrics.cluster_reachable.labels(conn.name, role).set(1 if up else 0)

    @staticmethod
    def _health(conn: ClusterConn, obj: Obj) -> tuple[bool, str, str]:
        if not conn.synced:
            was = get_condition(obj, "Ready")
            if was is not None and was.get("status") == "True" and not conn.last_error():
                # A restarted syncer loading its caches: the cluster is as ready as it was.
                # Ready=False here made the GSLB leave out every site at each restart, and
                # every exported domain answered nothing until the edges had listed.
                return True, str(was.get("reason", "")), str(was.get("message", ""))
            return False, "Syncing", "connected; informers are loading the cluster's objects"
        if not conn.healthy:
            return False, "WatchFailing", conn.last_error() or "a watch is failing"
        return True, "Connected", "the API server answers and every watch is running"

    async def _delete_tenant(self, obj: Obj) -> None:
        """Removes everything fusionvc wrote for the tenant on every edge, then the finalizer."""
        name = obj["metadata"]["name"]
        await self._drop("Tenant", self.ctx.tenants, name)
        await self.controller.remove_tenant(name)  # e.g. its Jobs in fusionvc's namespaces
        selector = f"{markers.MANAGED_SELECTOR},{markers.TENANT}={name}"
        for edge in list(self.ctx.edges.values()):
            # Edge namespaces hold the rest; cluster-scoped copies go by their labels.
            for rt in (NAMESPACES, *self.controller.cluster_scoped_copies()):
                found = await edge.client.list(rt, labelSelector=selector)
                for item in found.get("items", []):
                    if not item["metadata"].get("deletionTimestamp"):
                        await edge.client.delete(rt, item["metadata"]["name"],
                                                 uid=item["metadata"]["uid"])
        finalizers = [f for f in obj["metadata"].get("finalizers") or [] if f != FINALIZER]
        await self.client.patch(TENANTS, name, {"metadata": {
            "finalizers": finalizers, "resourceVersion": obj["metadata"]["resourceVersion"]}})
        self.metrics.forget_tenant(name)
        self.controller.forget_tenant(name)
        log.info("tenant removed; its edge namespaces are being deleted", tenant=name)

    # ---- edge clusters -----------------------------------------------------------------

    async def reconcile_edge(self, key: WorkKey) -> float | None:
        obj = self.informers["EdgeCluster"].store.get("", key.name)
        if obj is None:
            conn = self.ctx.edges.get(key.name)
            if conn is not None:
                self.placer.edge_cluster_changed(conn, removed=True)
            await self.failover.untrack(key.name)
            await self._drop("EdgeCluster", self.ctx.edges, key.name)
            return None
        self.failover.track(key.name, parse_edge_spec(obj["spec"]), obj.get("status"))
        failover_conds, failover_status = self.failover.status(key.name)
        try:
            client = await self._connection("EdgeCluster", obj)
        except ConnectError as err:
            self.metrics.cluster_reachable.labels(key.name, "edge").set(0)
            if key.name in self.ctx.edges:
                self.placer.edge_cluster_changed(self.ctx.edges[key.name], healthy=False)
            await self._set_status(EDGECLUSTERS, obj, False, err.reason, err.message,
                                   failover_status, failover_conds)
            return REFRESH_EDGE
        spec = obj["spec"]
        if client is not None:
            conn = EdgeConn(key.name, "edge", GatedClient(client, self.failover.admitted))
            self._update_edge(conn, spec)
            self.ctx.edges[key.name] = conn
            self.placer.edge_cluster_changed(conn, healthy=True)
            self.controller.start_edge(conn)
            self._tried.add(obj["metadata"]["uid"])
            log.info("edge cluster connected", edge=key.name)
        conn = self.ctx.edges[key.name]
        self._update_edge(conn, spec)
        ready, reason, message = self._health(conn, obj)
        # Placement avoids a cluster whose watches fail; one still loading has no nodes in
        # the snapshot yet, so it needs no flag (and must not look down once loaded).
        self.placer.edge_cluster_changed(conn, healthy=(conn.healthy or not conn.synced)
                                         and self.failover.admitted(key.name))
        self._report_reachable(conn, "edge", ready)
        nodes = len(conn.store(NODES))
        await self._set_status(EDGECLUSTERS, obj, ready, reason, message,
                               {"nodes": nodes, **failover_status}, failover_conds)
        return REFRESH_EDGE if conn.synced else REFRESH_LOADING

    @staticmethod
    def _update_edge(conn: EdgeConn, spec: Obj) -> None:
        conn.spec = parse_edge_spec(spec)
        for problem in conn.spec.dns_problems:
            log.warning("edge DNS address ignored", edge=conn.name, problem=problem)
