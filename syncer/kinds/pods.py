"""Pods: placed by the fusion scheduler, created on the edge, bound and mirrored upward.

The tenant pod is the source of truth for spec; the edge pod for status.
fusionvc acts as the virtual nodes' kubelet: it binds tenant pods to the
virtual node of the chosen edge node, reports the edge status up, and
finishes graceful deletions once the edge copy is gone.
"""

from __future__ import annotations

from collections.abc import Iterable

import structlog

from syncer.core import markers
from syncer.core.conditions import now_rfc3339, same_condition, set_condition
from syncer.core.context import SyncContext
from syncer.core.isolation import check_pod, describe
from syncer.core.keys import WorkKey
from syncer.core.names import edge_namespace, virtual_node_name
from syncer.core.syncer import NameTaken, ResourceSyncer
from syncer.fleet.conn import EdgeConn, TenantConn, WatchSpec
from syncer.kinds.pod_translate import (
    image_patch,
    metadata_patch,
    status_patch,
    translate_pod_down,
    translate_pod_status_up,
)
from syncer.kube import Obj
from syncer.kube.apis import NAMESPACES, PODS
from syncer.kube.client import STRATEGIC_PATCH, KubeError
from syncer.placement import Placement, Unplaceable

log = structlog.get_logger(__name__)
TERMINAL = ("Succeeded", "Failed")


def _copy_uid(edge_pod: Obj) -> str | None:
    """The UID of the tenant pod an edge pod is a copy of."""
    ref = markers.tenant_ref(edge_pod)
    return ref[2] if ref else None


def _status_only_change(old: Obj, new: Obj) -> bool:
    o, n = old["metadata"], new["metadata"]
    same_meta = all(o.get(f) == n.get(f) for f in ("labels", "annotations", "deletionTimestamp",
                                                    "finalizers", "uid"))
    return same_meta and old.get("spec") == new.get("spec")


class PodSyncer(ResourceSyncer):
    kind = "Pod"
    copied = PODS
    tenant_watches = (WatchSpec(PODS),)
    edge_watches = (WatchSpec(PODS, indexers=(("tenant-key", markers.tenant_key_index),)),)

    def __init__(self, ctx: SyncContext) -> None:
        super().__init__(ctx)
        self.unschedulable: set[WorkKey] = set()
        ctx.placer.add_listener(lambda _generation: self.requeue_unschedulable())

    # ---- events -> keys ----------------------------------------------------------------

    def tenant_event(self, tenant: TenantConn, watch: str, old: Obj | None,
                     new: Obj | None) -> Iterable[WorkKey]:
        obj = new or old
        assert obj is not None
        if old is not None and new is not None and _status_only_change(old, new):
            return  # fusionvc wrote that status itself: nothing to do down
        yield WorkKey(tenant.name, self.kind, obj["metadata"]["namespace"],
                      obj["metadata"]["name"])

    def scan(self, tenant: TenantConn) -> Iterable[WorkKey]:
        return self.copied_keys(tenant)

    def requeue_unschedulable(self) -> None:
        """The snapshot changed (room freed, node added): pending pods get another try."""
        for key in list(self.unschedulable):
            self.ctx.queue.add(key)

    # ---- reconcile ---------------------------------------------------------------------

    def find_edge_pod(self, tenant: TenantConn, namespace: str,
                      name: str) -> tuple[EdgeConn, Obj] | None:
        ens = edge_namespace(tenant.name, tenant.uid, namespace)
        for edge in self.ctx.edges.values():
            if not self.ctx.admission.admitted(edge.name):
                continue  # failover owns the pods of a lost cluster (syncer/failover/)
            pod = edge.get(PODS, ens, name) if edge.informers else None
            if pod is not None and markers.is_managed(pod, tenant.name):
                return edge, pod
        return None

    async def reconcile(self, key: WorkKey) -> float | None:
        tenant = self.ctx.tenants.get(key.tenant)
        if tenant is None:
            return None
        tpod = tenant.get(PODS, key.namespace, key.name)
        found = self.find_edge_pod(tenant, key.namespace, key.name)
        if tpod is None or tpod["metadata"].get("deletionTimestamp"):
            self.unschedulable.discard(key)
            return await self._delete(tenant, tpod, found)
        if found and _copy_uid(found[1]) != tpod["metadata"]["uid"]:
            await self._delete_edge(*found)  # an older pod of the same name
            return 1.0
        if found is None:
            return await self._create(key, tenant, tpod)
        self.unschedulable.discard(key)
        await self._update(tenant, tpod, *found)
        return None

    async def _delete(self, tenant: TenantConn, tpod: Obj | None,
                      found: tuple[EdgeConn, Obj] | None) -> float | None:
        if found is not None:
            edge, epod = found
            grace = tpod["metadata"].get("deletionGracePeriodSeconds") if tpod else None
            if not epod["metadata"].get("deletionTimestamp"):
                await self._delete_edge(edge, epod, grace)
            if tpod is not None and epod.get("status", {}).get("phase") not in TERMINAL:
                await self._mirror_status(tenant, tpod, epod)
            return None
        if tpod is not None and tpod["spec"].get("nodeName"):
            # Edge copy gone: finish the graceful delete as a kubelet would.
            meta = tpod["metadata"]
            await tenant.client.delete(PODS, meta["name"], meta["namespace"], uid=meta["uid"],
                                       grace_seconds=0)
        return None

    async def _delete_edge(self, edge: EdgeConn, epod: Obj, grace: int | None = None) -> None:
        meta = epod["metadata"]
        await edge.client.delete(PODS, meta["name"], meta["namespace"], uid=meta["uid"],
                                 grace_seconds=grace)
        self.ctx.placer.forget(edge.name, meta["namespace"], meta["name"])

    async def _create(self, key: WorkKey, tenant: TenantConn, tpod: Obj) -> float | None:
        if tpod.get("status", {}).get("phase") in TERMINAL:
            return None
        violations = check_pod(tpod, tenant.isolation)
        if violations:
            await self._reject(tenant, tpod, "Forbidden", describe(violations))
            return None
        cluster = (tpod["metadata"].get("annotations") or {}).get(markers.EDGE_CLUSTER)
        if tpod["spec"].get("nodeName") and cluster:
            if self._namespace_terminating(tenant, tpod):
                return None  # the namespace is going: its pods are deleted, not replaced
            if not self.ctx.admission.admitted(cluster):
                return None  # its cluster is lost: failover (syncer/failover/) decides
            if not await self._edge_pod_gone(tenant, tpod, cluster):
                return 1.0  # created, just not in the edge cache yet
            await self._mark_lost(tenant, tpod)
            return None
        decision = self.ctx.placer.place(tenant, tpod)
        if isinstance(decision, Unplaceable):
            self.unschedulable.add(key)
            await self._reject(tenant, tpod, "Unschedulable", decision.message)
            return None
        self.unschedulable.discard(key)
        await self._run_on_edge(tenant, tpod, decision)
        return None

    async def _run_on_edge(self, tenant: TenantConn, tpod: Obj, placement: Placement) -> None:
        edge = self.ctx.edges[placement.cluster]
        ns = edge_namespace(tenant.name, tenant.uid, tpod["metadata"]["namespace"])
        vnode = virtual_node_name(edge.name, placement.node)
        epod = translate_pod_down(tpod, tenant=tenant.name, edge_namespace=ns,
                                  edge_node=placement.node, virtual_node=vnode)
        # Assumed before the first await: other workers schedule while this one waits.
        self.ctx.placer.assume(edge.name, placement.node, epod)
        try:
            await self.ctx.namespaces.ensure(tenant, edge, tpod["metadata"]["namespace"])
            for dependents in self.ctx.pod_dependents:
                await dependents.ensure_for_pod(tenant, edge, tpod)
            await edge.client.create(PODS, epod, namespace=ns)
        except NameTaken as err:  # something the pod needs: the tenant is told, not a loop
            self.ctx.placer.forget(edge.name, ns, epod["metadata"]["name"])
            await self._reject(tenant, tpod, "NameTaken", err.for_tenant())
            return
        except KubeError as err:
            if not err.conflict or not await self._ours_exists(edge, tenant, tpod, ns):
                self.ctx.placer.forget(edge.name, ns, epod["metadata"]["name"])
                if err.conflict:
                    await self._reject(tenant, tpod, "NameTaken", "an object not managed by "
                                       "fusionvc holds this pod's name in the edge cluster")
                    return
                raise
        await self.ctx.virtual_nodes.ensure(tenant, edge, placement.node)
        await self._bind(tenant, tpod, edge.name, placement.node, vnode)

    async def _ours_exists(self, edge: EdgeConn, tenant: TenantConn, tpod: Obj, ns: str) -> bool:
        """After 409 on create: is the pod there this tenant pod's own copy (an earlier try)?
        An older copy of a pod of the same name is retried once it has been removed."""
        existing = await edge.client.get(PODS, tpod["metadata"]["name"], ns)
        if not markers.is_managed(existing, tenant.name):
            return False
        ref = markers.tenant_ref(existing)
        if ref is None or ref[2] != tpod["metadata"]["uid"]:
            raise KubeError(409, "Conflict", "an older copy of this pod is still being removed")
        return True

    async def _bind(self, tenant: TenantConn, tpod: Obj, cluster: str, node: str,
                    vnode: str) -> None:
        meta = tpod["metadata"]
        binding = {"apiVersion": "v1", "kind": "Binding",
                   "metadata": {"name": meta["name"], "namespace": meta["namespace"],
                                "annotations": {markers.EDGE_CLUSTER: cluster,
                                                markers.EDGE_NODE: node}},
                   "target": {"apiVersion": "v1", "kind": "Node", "name": vnode}}
        path = PODS.path(meta["namespace"], meta["name"], "binding")
        try:
            await tenant.client.request("POST", path, body=binding)
        except KubeError as err:
            if not err.conflict:  # 409: already bound, by an earlier attempt
                raise

    async def _update(self, tenant: TenantConn, tpod: Obj, edge: EdgeConn, epod: Obj) -> None:
        if not tpod["spec"].get("nodeName"):
            node = epod["spec"]["nodeName"]
            await self.ctx.virtual_nodes.ensure(tenant, edge, node)
            await self._bind(tenant, tpod, edge.name, node, virtual_node_name(edge.name, node))
            return
        desired = translate_pod_down(tpod, tenant=tenant.name,
                                     edge_namespace=epod["metadata"]["namespace"],
                                     edge_node=epod["spec"]["nodeName"],
                                     virtual_node=tpod["spec"]["nodeName"])
        for patch in (metadata_patch(epod, desired), image_patch(epod, desired)):
            if patch:
                await edge.client.patch(PODS, epod["metadata"]["name"], patch,
                                        namespace=epod["metadata"]["namespace"],
                                        content_type=STRATEGIC_PATCH)
        await self._mirror_status(tenant, tpod, epod)

    async def _mirror_status(self, tenant: TenantConn, tpod: Obj, epod: Obj) -> None:
        patch = status_patch(tpod.get("status") or {}, translate_pod_status_up(epod))
        if patch:
            meta = tpod["metadata"]
            await tenant.client.patch(PODS, meta["name"], {"status": patch},
                                      namespace=meta["namespace"], subresource="status")

    async def _reject(self, tenant: TenantConn, tpod: Obj, reason: str, message: str) -> None:
        """PodScheduled=False with the reason, and a Warning Event, both on the tenant pod."""
        if same_condition(tpod, "PodScheduled", "False", reason, message):
            return
        conditions = set_condition(tpod.get("status", {}).get("conditions"), "PodScheduled",
                                   "False", reason, message)
        for cond in conditions:
            cond.setdefault("lastProbeTime", None)
        meta = tpod["metadata"]
        await tenant.client.patch(PODS, meta["name"], {"status": {"conditions": conditions}},
                                  namespace=meta["namespace"], subresource="status")
        event_reason = "FailedScheduling" if reason == "Unschedulable" else "SyncRejected"
        await self.ctx.recorder.warn(tenant.client, {"kind": "Pod", **tpod}, event_reason, message)

    def _namespace_terminating(self, tenant: TenantConn, tpod: Obj) -> bool:
        ns = tenant.get(NAMESPACES, "", tpod["metadata"]["namespace"])
        return ns is None or bool(ns["metadata"].get("deletionTimestamp"))

    async def _edge_pod_gone(self, tenant: TenantConn, tpod: Obj, cluster: str) -> bool:
        """Asks the edge API server itself: a cache that lags must not fail a live pod."""
        edge = self.ctx.edges.get(cluster)
        if edge is None:
            return True  # its edge cluster was removed
        meta = tpod["metadata"]
        ens = edge_namespace(tenant.name, tenant.uid, meta["namespace"])
        try:
            epod = await edge.client.get(PODS, meta["name"], ens)
        except KubeError as err:
            if err.not_found:
                return True
            raise
        ref = markers.tenant_ref(epod)
        return ref is None or ref[2] != meta["uid"]

    async def _mark_lost(self, tenant: TenantConn, tpod: Obj) -> None:
        """The edge copy of a running pod vanished: Failed, so its controller replaces it."""
        if tpod.get("status", {}).get("phase") in TERMINAL:
            return
        meta = tpod["metadata"]
        message = "the pod's edge copy disappeared; its controller will replace it"
        status = {"phase": "Failed", "reason": "EdgePodLost", "message": message}
        await tenant.client.patch(PODS, meta["name"], {"status": status},
                                  namespace=meta["namespace"], subresource="status")
        await self.ctx.recorder.warn(tenant.client, {"kind": "Pod", **tpod}, "EdgePodLost",
                                     message)
        log.warning("edge pod lost", tenant=tenant.name, pod=f"{meta['namespace']}/{meta['name']}",
                    at=now_rfc3339())
