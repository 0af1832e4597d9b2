"""Virtual nodes: one tenant Node per edge node that runs that tenant's pods.

Created before the first pod is bound to it, kept fresh (Ready condition and
capacity written when they change; node Lease renewed every --node-heartbeat,
syncer/kinds/node_heartbeat.py, so the tenant's controller-manager never thinks
it died), and deleted when no pod of the tenant is left on it. The tenant sees
region, zone, edge cluster, arch and GPU model as labels, never the edge
cluster's address or other tenants' pods.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import structlog

from syncer.core import markers
from syncer.core.context import SyncContext
from syncer.core.keys import WorkKey
from syncer.core.names import virtual_node_name
from syncer.core.single_flight import SingleFlight
from syncer.core.syncer import ResourceSyncer
from syncer.fleet.conn import EdgeConn, TenantConn, WatchSpec
from syncer.kinds.node_heartbeat import RenewalSchedule
from syncer.kube import Obj
from syncer.kube.apis import LEASES, NODES, PODS
from syncer.kube.client import KubeError

log = structlog.get_logger(__name__)
LEASE_NAMESPACE = "kube-node-lease"
NEW_NODE_GRACE = 60.0
VISIBLE_LABELS = ("kubernetes.io/arch", "kubernetes.io/os", "beta.kubernetes.io/arch",
                 "beta.kubernetes.io/os", "topology.kubernetes.io/region",
                 "topology.kubernetes.io/zone", "node.kubernetes.io/instance-type",
                 "nvidia.com/gpu.product", "nvidia.com/gpu.count")
VISIBLE_CONDITIONS = ("Ready", "MemoryPressure", "DiskPressure", "PIDPressure")


def _micro_now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def translate_node_up(edge: EdgeConn, edge_node: Obj, now: str,
                      tolerable: frozenset[str] = frozenset(),
                      kubelet: tuple[str, int] | None = None) -> Obj:
    """The tenant's view of an edge node (pure but for the heartbeat time passed in).

    Taints: only those the tenant may tolerate (its policy's tolerableTaints, and the
    EdgeCluster's tolerableTaints); the others are the platform's, and no toleration of
    the tenant's opens them.
    ``kubelet`` is fusionvc's kubelet endpoint (IP, port): the tenant kube-apiserver
    reaches the node there for logs, exec, attach and port-forward.
    """
    meta, status = edge_node["metadata"], edge_node.get("status") or {}
    name = virtual_node_name(edge.name, meta["name"])
    labels = {k: v for k, v in (meta.get("labels") or {}).items() if k in VISIBLE_LABELS}
    labels.setdefault("topology.kubernetes.io/region", edge.region)
    labels.update({"kubernetes.io/hostname": name, "type": "virtual-node",
                   markers.MANAGED_BY: markers.MANAGED_BY_VALUE,
                   markers.EDGE_CLUSTER: edge.name})
    conditions = [dict(c, lastHeartbeatTime=now) for c in status.get("conditions") or []
                  if c.get("type") in VISIBLE_CONDITIONS]
    tolerable = tolerable | edge.spec.tolerable_taints
    taints = [t for t in (edge_node.get("spec") or {}).get("taints") or []
              if t.get("key", "") in tolerable]
    addresses = [{"type": "Hostname", "address": name}]
    endpoints = {}
    if kubelet is not None:
        addresses.insert(0, {"type": "InternalIP", "address": kubelet[0]})
        endpoints = {"kubeletEndpoint": {"Port": kubelet[1]}}
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": labels, "annotations": {
            markers.EDGE_CLUSTER: edge.name, markers.EDGE_NODE: meta["name"],
            "fusionvc.io/price-per-hour": (meta.get("annotations") or {}).get(
                "fusionvc.io/price-per-hour", "")}},
        "spec": {"taints": taints, "unschedulable": bool(edge_node["spec"].get("unschedulable"))},
        "status": {"capacity": status.get("capacity", {}),
                   "allocatable": status.get("allocatable", {}),
                   "conditions": conditions, "nodeInfo": status.get("nodeInfo", {}),
                   "addresses": addresses, "daemonEndpoints": endpoints},
    }


def _kubelet_port(status: Obj) -> int:
    return int(((status.get("daemonEndpoints") or {}).get("kubeletEndpoint") or {}).get("Port", 0))


# Taints the tenant's own node lifecycle controller manages on a virtual node: kept as they are.
TENANT_TAINT_PREFIXES = ("node.kubernetes.io/", "node.cloudprovider.kubernetes.io/")


def converged_taints(have: Obj, want: Obj) -> list[Obj] | None:
    """The virtual node's taints after the edge node's (or the tolerable list) changed, or
    None when they already match. The tenant controller-manager's own taints stay."""
    current = (have.get("spec") or {}).get("taints") or []
    theirs = [t for t in current if str(t.get("key", "")).startswith(TENANT_TAINT_PREFIXES)]
    ours = [t for t in current if t not in theirs]
    wanted: list[Obj] = want["spec"]["taints"]
    if ours == wanted:
        return None
    return theirs + wanted


def _status_differs(have: Obj, want: Obj) -> bool:
    h, w = have.get("status") or {}, want["status"]
    if h.get("capacity") != w["capacity"] or h.get("allocatable") != w["allocatable"]:
        return True
    if h.get("addresses") != w["addresses"] or _kubelet_port(h) != _kubelet_port(w):
        return True
    strip = ("lastHeartbeatTime", "lastTransitionTime")
    def key(conds: list[Obj]) -> list[tuple[Any, ...]]:
        return sorted(tuple(v for k, v in sorted(c.items()) if k not in strip) for c in conds)
    return key(h.get("conditions") or []) != key(w["conditions"])


def tolerable_taints(tenant: TenantConn) -> frozenset[str]:
    return tenant.scheduling.tolerable_taints if tenant.scheduling else frozenset()


def pod_node_index(pod: Obj) -> list[str]:
    node = pod["spec"].get("nodeName")
    return [node] if node else []


class VirtualNodeSyncer(ResourceSyncer):
    kind = "Node"
    direction = "up"
    deadline = True  # Lease renewals: a tenant marks a node NotReady past its grace period
    # Pods by node, on both sides: a virtual node lives while the tenant has pods on it.
    tenant_watches = (WatchSpec(NODES), WatchSpec(PODS, indexers=(("node", pod_node_index),)))
    edge_watches = (WatchSpec(NODES), WatchSpec(PODS, indexers=(("node", pod_node_index),)))

    def __init__(self, ctx: SyncContext) -> None:
        super().__init__(ctx)
        ctx.virtual_nodes = self
        # The node Lease is renewed when due (syncer/kinds/node_heartbeat.py), not on every
        # reconcile: the drift scan and edge node updates wake a node without a write.
        self.heartbeats = RenewalSchedule(ctx.node_heartbeat_s)
        self._creating: SingleFlight[tuple[str, str], str] = SingleFlight()

    def tenant_event(self, tenant: TenantConn, watch: str, old: Obj | None,
                     new: Obj | None) -> Iterable[WorkKey]:
        obj = new or old
        assert obj is not None
        if watch == PODS.plural:
            left = old["spec"].get("nodeName") if old is not None else None
            bound = new["spec"].get("nodeName") if new is not None else None
            # Gone from the node: is it still in use? Not while another tenant pod is bound
            # to it (the store holds this event already); a reconcile per pod deleted was
            # most of a scale-down's Node reconciles.
            if left and left != bound and not tenant.store(PODS).has_index("node", left):
                yield WorkKey(tenant.name, self.kind, "", left)
            # Bound to a node that is not there (a pod syncer ensures it before binding, so
            # this is rare): recreate it. A node that is there needs nothing for the pod; a
            # reconcile per bound pod was 3% of the syncer's CPU in a rollout.
            if bound and bound != left and tenant.get(NODES, "", bound) is None:
                yield WorkKey(tenant.name, self.kind, "", bound)
        elif markers.is_managed(obj) or new is None:
            yield WorkKey(tenant.name, self.kind, "", obj["metadata"]["name"])

    def edge_event(self, edge: EdgeConn, watch: str, old: Obj | None,
                   new: Obj | None) -> Iterable[WorkKey]:
        if watch == PODS.plural:
            return  # watched only for the "node" index
        obj = new or old
        assert obj is not None
        vnode = virtual_node_name(edge.name, obj["metadata"]["name"])
        for tenant in self.ctx.tenants.values():
            if tenant.informers and tenant.get(NODES, "", vnode) is not None:
                yield WorkKey(tenant.name, self.kind, "", vnode)

    def scan(self, tenant: TenantConn) -> Iterable[WorkKey]:
        names = {n["metadata"]["name"] for n in tenant.store(NODES) if markers.is_managed(n)}
        names.update(tenant.store(PODS).index_values("node"))
        return [WorkKey(tenant.name, self.kind, "", n) for n in names]

    def _edge_node(self, vnode: Obj) -> tuple[EdgeConn, Obj] | None:
        ann = vnode["metadata"].get("annotations") or {}
        edge = self.ctx.edges.get(ann.get(markers.EDGE_CLUSTER, ""))
        if edge is None or not edge.informers:
            return None
        node = edge.get(NODES, "", ann.get(markers.EDGE_NODE, ""))
        return (edge, node) if node is not None else None

    def _serving_edge_node(self, vnode: Obj) -> tuple[EdgeConn, Obj] | None:
        """The edge node behind the virtual node, while its cluster answers and is admitted."""
        found = self._edge_node(vnode)
        if found is None or not found[0].healthy or \
                not self.ctx.admission.admitted(found[0].name):
            return None
        return found

    def _in_use(self, tenant: TenantConn, vnode: Obj) -> bool:
        """A tenant pod is bound to it, or one of the tenant's edge pods runs on its node
        (about to be bound), or it was made moments ago for a pod still on its way."""
        if tenant.store(PODS).has_index("node", vnode["metadata"]["name"]):
            return True
        found = self._edge_node(vnode)
        if found is not None and any(
                markers.tenant_of(p) == tenant.name
                for p in found[0].store(PODS).by_index("node", found[1]["metadata"]["name"])):
            return True
        created = dt.datetime.fromisoformat(vnode["metadata"]["creationTimestamp"])
        return bool(dt.datetime.now(dt.UTC) - created < dt.timedelta(seconds=NEW_NODE_GRACE))

    async def _recreate(self, tenant: TenantConn, name: str) -> None:
        """Pods are bound to a virtual node that is gone (deleted by hand, say): bring it back,
        before the tenant's pod garbage collector deletes the pods as orphans."""
        for pod in tenant.store(PODS).by_index("node", name):
            ann = pod["metadata"].get("annotations") or {}
            edge = self.ctx.edges.get(ann.get(markers.EDGE_CLUSTER, ""))
            node = ann.get(markers.EDGE_NODE, "")
            if edge is not None and virtual_node_name(edge.name, node) == name:
                await self.ensure(tenant, edge, node)
                return

    async def ensure(self, tenant: TenantConn, edge: EdgeConn, node_name: str) -> str:
        """Creates the virtual node for an edge node if the tenant lacks it."""
        vnode = virtual_node_name(edge.name, node_name)
        if tenant.get(NODES, "", vnode) is not None:
            return vnode
        # Pods bound at once to a new node: one worker creates it, the others wait for it.
        return await self._creating.run((tenant.name, vnode),
                                        lambda: self._create(tenant, edge, node_name, vnode))

    async def _create(self, tenant: TenantConn, edge: EdgeConn, node_name: str,
                      vnode: str) -> str:
        edge_node = edge.get(NODES, "", node_name)
        if edge_node is None:
            raise KubeError(404, "NodeGone", f"edge node {node_name} on {edge.name} is gone")
        want = translate_node_up(edge, edge_node, _micro_now(), tolerable_taints(tenant),
                                 self.ctx.kubelet_address)
        # Its Lease is made here: the node's own first reconcile must not renew it meanwhile
        # (a PATCH answered 404, then a create answered 409).
        key = WorkKey(tenant.name, self.kind, "", vnode)
        self.heartbeats.renewed(key)
        try:
            try:
                await tenant.client.create(NODES, want)
            except KubeError as err:
                if not err.conflict:
                    raise
            await self._renew_lease(tenant, vnode, new=True)
        except BaseException:
            self.heartbeats.forget(key)
            raise
        return vnode

    async def reconcile(self, key: WorkKey) -> float | None:
        tenant = self.ctx.tenants.get(key.tenant)
        vnode = tenant.get(NODES, "", key.name) if tenant is not None else None
        if tenant is None or vnode is None or not markers.is_managed(vnode):
            self.heartbeats.forget(key)
            if tenant is not None and vnode is None:
                await self._recreate(tenant, key.name)
            return None
        if not self._in_use(tenant, vnode):
            log.info("removing virtual node", tenant=tenant.name, node=key.name)
            self.heartbeats.forget(key)
            await tenant.client.delete(NODES, key.name, uid=vnode["metadata"]["uid"])
            await tenant.client.delete(LEASES, key.name, LEASE_NAMESPACE)
            return None
        found = self._serving_edge_node(vnode)
        if found is None:
            # No heartbeat: the tenant's controller-manager will see the node go NotReady
            # and, after its eviction timeout, replace the pods elsewhere.
            await self._mark_unknown(tenant, vnode)
            return self.heartbeats.heartbeat_s
        want = translate_node_up(found[0], found[1], _micro_now(), tolerable_taints(tenant),
                                 self.ctx.kubelet_address)
        taints = converged_taints(vnode, want)
        if taints is not None:  # a change made after the virtual node was created
            await tenant.client.patch(NODES, key.name, {"spec": {"taints": taints}})
        if _status_differs(vnode, want):
            await tenant.client.patch(NODES, key.name, {"status": want["status"]},
                                      subresource="status")
        return await self._heartbeat(tenant, key)

    async def before_caches_synced(self, key: WorkKey) -> float | None:
        """After a restart, a managed virtual node's Lease is renewed from the Node caches
        alone while pods still list: listing 10,000 pods on a loaded machine outlasted the
        tenant's grace period, every virtual node went NotReady and their pods unready with
        them. Nothing else (status, removal) is decided before every cache synced."""
        tenant = self.ctx.tenants.get(key.tenant)
        informer = tenant.informers.get(NODES.plural) if tenant is not None else None
        if tenant is None or informer is None or not informer.synced.is_set():
            return None
        vnode = tenant.get(NODES, "", key.name)
        if not vnode or not markers.is_managed(vnode) or self._serving_edge_node(vnode) is None:
            return None
        return await self._heartbeat(tenant, key)

    async def _heartbeat(self, tenant: TenantConn, key: WorkKey) -> float:
        """Renews the Lease when due; seconds until the next renewal."""
        if self.heartbeats.due_in(key) == 0.0:
            await self._renew_lease(tenant, key.name)
        return self.heartbeats.due_in(key)

    async def _mark_unknown(self, tenant: TenantConn, vnode: Obj) -> None:
        conds = (vnode.get("status") or {}).get("conditions") or []
        ready = next((c for c in conds if c.get("type") == "Ready"), None)
        if ready is not None and ready.get("status") == "Unknown":
            return
        now = _micro_now()
        edge = (vnode["metadata"].get("annotations") or {}).get(markers.EDGE_CLUSTER, "?")
        cond = {"type": "Ready", "status": "Unknown", "reason": "EdgeClusterUnreachable",
                "message": f"fusionvc cannot reach edge cluster {edge} behind this node",
                "lastHeartbeatTime": now, "lastTransitionTime": now}
        others = [c for c in conds if c.get("type") != "Ready"]
        await tenant.client.patch(NODES, vnode["metadata"]["name"],
                                  {"status": {"conditions": [*others, cond]}},
                                  subresource="status")

    async def _renew_lease(self, tenant: TenantConn, vnode: str, *, new: bool = False) -> None:
        """The node Lease is the tenant controller-manager's proof the node is alive. A new
        node's Lease is created first: a PATCH would only be answered 404."""
        body = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                "metadata": {"name": vnode, "namespace": LEASE_NAMESPACE},
                "spec": {"holderIdentity": vnode,
                         "leaseDurationSeconds": self.heartbeats.lease_seconds,
                         "renewTime": _micro_now()}}
        if not new or not await self._create_lease(tenant, body):
            try:
                await tenant.client.patch(LEASES, vnode, {"spec": body["spec"]},
                                          namespace=LEASE_NAMESPACE)
            except KubeError as err:
                if not err.not_found:
                    raise
                await self._create_lease(tenant, body)
        self.heartbeats.renewed(WorkKey(tenant.name, self.kind, "", vnode))

    @staticmethod
    async def _create_lease(tenant: TenantConn, body: Obj) -> bool:
        """Creates the Lease; False when it exists (another worker made it just now)."""
        try:
            await tenant.client.create(LEASES, body, namespace=LEASE_NAMESPACE)
        except KubeError as err:
            if not err.conflict:
                raise
            return False
        return True
