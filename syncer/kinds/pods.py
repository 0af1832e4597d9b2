"""Pods: placed by the fusion scheduler, created on the edge, bound and mirrored upward.

The tenant pod is the source of truth for spec; the edge pod for status.
fusionvc acts as the virtual nodes' kubelet: it binds tenant pods to the
virtual node of the chosen edge node, reports the edge status up, and
finishes graceful deletions once the edge copy is gone.

This module is the reconcile/apply layer (PodSyncer); what it applies comes from
pod_translate (edge copy, in-place update), pod_status(_writes) (status up, Failed),
pod_resize (in-place resize), pod_refusals, pod_admission and pod_lanes (queue lanes).
"""

from __future__ import annotations

from collections.abc import Iterable

import structlog
from cachetools import TTLCache

from syncer.core import markers
from syncer.core.conditions import same_condition, set_condition
from syncer.core.context import SyncContext
from syncer.core.isolation import check_pod, describe
from syncer.core.keys import WorkKey
from syncer.core.names import edge_namespace, edge_runtime_class, virtual_node_name
from syncer.core.syncer import NameTaken, ResourceSyncer
from syncer.fleet.conn import EdgeConn, TenantConn, WatchSpec
from syncer.fleet.registries import pull_secret_names
from syncer.kinds.dataset_claims import pod_dataset_claims
from syncer.kinds.dataset_first_use_gate import FirstUseGate
from syncer.kinds.edge_targets import Target
from syncer.kinds.pod_admission import admission_failure, scheduled_by_fusionvc, was_placed
from syncer.kinds.pod_echoes import PodEchoes, grace_cut_only
from syncer.kinds.pod_lanes import edge_pod_lane
from syncer.kinds.pod_ownership import (
    copy_uid,
    edge_pod_gone,
    is_bound_copy,
    is_own_copy,
    ours_exists,
)
from syncer.kinds.pod_refusals import (
    EDGE_REFUSED,
    QUOTA_RETRY_SECONDS,
    RefusedVersions,
    is_permanent,
    is_refusal,
    oversized_annotations,
    refusal_message,
    update_refusal_message,
)
from syncer.kinds.pod_resize import carry_resize
from syncer.kinds.pod_secrets import pod_api_access
from syncer.kinds.pod_status import TERMINAL, fail_pod, mark_lost, status_only_change
from syncer.kinds.pod_status_writes import StatusWrites
from syncer.kinds.pod_translate import edge_delete_shortens, translate_pod_down, update_patch
from syncer.kube import Obj
from syncer.kube.apis import NAMESPACES, PODS
from syncer.kube.client import STRATEGIC_PATCH, KubeError
from syncer.kubelet.debug import EphemeralContainers
from syncer.placement import Placement, Unplaceable

log = structlog.get_logger(__name__)
SCHEDULING_GATED = "Scheduling is blocked due to non-empty scheduling gates"  # kube-scheduler's


def _edge_runtime_class(tenant: TenantConn, tpod: Obj) -> str | None:
    name = tpod["spec"].get("runtimeClassName")
    return edge_runtime_class(tenant.name, tenant.uid, name) if name else None


class PodSyncer(ResourceSyncer):
    kind = "Pod"
    copied = PODS
    tenant_watches = (WatchSpec(PODS),)
    edge_watches = (WatchSpec(PODS, indexers=(("tenant-key", markers.tenant_key_index),)),)

    def __init__(self, ctx: SyncContext) -> None:
        super().__init__(ctx)
        self.unschedulable: set[WorkKey] = set()
        self.create_refusals = RefusedVersions()  # versions of pods the edge refused
        self.update_refusals = RefusedVersions(ttl=3600)  # ... and those it refused to update
        self.ephemeral = EphemeralContainers(ctx.recorder)  # kubectl debug (syncer/kubelet)
        self.first_use = FirstUseGate(ctx, self._bind)  # OnFirstUse EdgeDatasets
        # UIDs of tenant pods this syncer bound, until the tenant cache shows them bound: an
        # edge event of the new copy (served first, core/queue.py) must not bind them again.
        self._bound: TTLCache[str, bool] = TTLCache(maxsize=50_000, ttl=60)
        self.status_up = StatusWrites()  # the edge status up, once per edge status
        self.echoes = PodEchoes()  # the events of its own create and binding: not queued
        ctx.placer.add_listener(lambda _generation: self.requeue_unschedulable())

    # ---- events -> keys ----------------------------------------------------------------

    def tenant_event(self, tenant: TenantConn, watch: str, old: Obj | None,
                     new: Obj | None) -> Iterable[WorkKey]:
        obj = new or old
        assert obj is not None
        if old is not None and new is not None and status_only_change(old, new):
            return  # fusionvc wrote that status itself: nothing to do down
        if self.echoes.is_binding_echo(old, new) or self.echoes.is_finish_echo(old, new):
            return
        yield WorkKey(tenant.name, self.kind, obj["metadata"]["namespace"],
                      obj["metadata"]["name"])

    def edge_event(self, edge: EdgeConn, watch: str, old: Obj | None,
                   new: Obj | None) -> Iterable[WorkKey]:
        if self.echoes.is_create_echo(edge.name, old, new) or self.echoes.is_delete_echo(old, new) \
                or grace_cut_only(old, new):
            return ()
        return super().edge_event(edge, watch, old, new)

    def edge_lane(self, watch: str, old: Obj | None, new: Obj | None) -> int:
        return edge_pod_lane(old, new)  # a pod still starting waits its turn (pod_lanes)

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
            if pod is not None and is_own_copy(edge, tenant, pod):
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
        if found and copy_uid(found[1]) != tpod["metadata"]["uid"] \
                and not is_bound_copy(tpod, found[0].name, found[1]):
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
            if edge_delete_shortens(epod, grace):
                await self._delete_edge(edge, epod, grace)
            if tpod is not None and epod.get("status", {}).get("phase") not in TERMINAL:
                await self.status_up.mirror(tenant, tpod, epod)
            return None
        if tpod is not None and tpod["spec"].get("nodeName"):
            # Edge copy gone: finish the graceful delete as a kubelet would.
            meta = tpod["metadata"]
            async with self.echoes.finishing(meta["uid"]):
                await tenant.client.delete(PODS, meta["name"], meta["namespace"],
                                           uid=meta["uid"], grace_seconds=0)
        return None

    async def _delete_edge(self, edge: EdgeConn, epod: Obj, grace: int | None = None) -> None:
        meta = epod["metadata"]
        async with self.echoes.deleting(meta["uid"]):
            await edge.client.delete(PODS, meta["name"], meta["namespace"], uid=meta["uid"],
                                     grace_seconds=grace)
        self.ctx.placer.forget(edge.name, meta["namespace"], meta["name"])

    async def _create(self, key: WorkKey, tenant: TenantConn, tpod: Obj) -> float | None:
        if tpod.get("status", {}).get("phase") in TERMINAL:
            return None
        cluster = (tpod["metadata"].get("annotations") or {}).get(markers.EDGE_CLUSTER)
        bound = bool(tpod["spec"].get("nodeName"))
        # A bound pod was admitted already: a refused debug container must not hide its loss.
        if bound and cluster:
            if self._namespace_terminating(tenant, tpod):
                return None  # the namespace is going: its pods are deleted, not replaced
            if not self.ctx.admission.admitted(cluster):
                return None  # its cluster is lost: failover (syncer/failover/) decides
            if not await edge_pod_gone(self.ctx.edges.get(cluster), tenant, tpod):
                return 1.0  # created, just not in the edge cache yet
            if was_placed(tpod):
                await mark_lost(tenant, self.ctx.recorder, tpod)
                return None
            # Never ran: admitted again, to the node it names, below.
        if await self._refuse_before_placing(key, tenant, tpod):
            return None
        if not bound and not scheduled_by_fusionvc(tpod):
            return None  # the tenant's own scheduler's pod: run it once that binds it
        clusters, refusal = self._allowed_clusters(tenant, tpod)
        decision = (self.ctx.placer.place(tenant, self.first_use.view(tenant, tpod), clusters)
                    if refusal is None else None)
        if isinstance(decision, Unplaceable) and bound:
            if decision.unknown_node and not all(e.synced for e in self.ctx.edges.values()):
                return 2.0  # an edge cluster still loading may hold the node
            await fail_pod(tenant, self.ctx.recorder, tpod, *admission_failure(decision))
            return None
        if not isinstance(decision, Placement):
            self.unschedulable.add(key)
            message = refusal or (decision.message if decision else "")
            await self._reject(tenant, tpod, "Unschedulable", message)
            return None
        self.unschedulable.discard(key)
        if (held := await self.first_use.hold(tenant, tpod, decision)) is not None:
            return held  # an OnFirstUse dataset is still on its way to the node
        return await self._run_on_edge(tenant, tpod, decision)

    async def _refuse_before_placing(self, key: WorkKey, tenant: TenantConn, tpod: Obj) -> bool:
        """A pod fusionvc must not place (yet): forbidden fields, or scheduling gates."""
        violations = check_pod(tpod, tenant.isolation)
        if violations:
            await self._reject(tenant, tpod, "Forbidden", describe(violations))
            return True
        if self.create_refusals.refused(tpod):
            return True  # the edge refused this version of the pod: it waits for a change
        if tpod["spec"].get("schedulingGates") and not tpod["spec"].get("nodeName"):
            self.unschedulable.discard(key)  # it waits for its gates, not for room
            await self._reject(tenant, tpod, "SchedulingGated", SCHEDULING_GATED, event=False)
            return True
        return False

    def _allowed_clusters(self, tenant: TenantConn,
                          tpod: Obj) -> tuple[frozenset[str] | None, str | None]:
        """Clusters the pod's kinds allow (None: any), or why none is left."""
        allowed: frozenset[str] | None = None
        reasons: list[str] = []
        for source in self.ctx.placement_constraints:
            found = source.constraint(tenant, tpod)
            if found is None:
                continue
            allowed = found.clusters if allowed is None else allowed & found.clusters
            reasons.append(found.reason)
            if not allowed:
                return allowed, f"0/{len(self.ctx.edges)} edge clusters are available: " \
                    + "; ".join(reasons)
        return allowed, None

    async def _run_on_edge(self, tenant: TenantConn, tpod: Obj,
                           placement: Placement) -> float | None:
        edge = self.ctx.edges[placement.cluster]
        ns = edge_namespace(tenant.name, tenant.uid, tpod["metadata"]["namespace"])
        vnode = virtual_node_name(edge.name, placement.node)
        epod = translate_pod_down(tpod, tenant=tenant.name, edge_namespace=ns,
                                  edge_node=placement.node, virtual_node=vnode,
                                  runtime_class=_edge_runtime_class(tenant, tpod),
                                  dns=edge.dns_for(tenant.name),
                                  pull_secrets=pull_secret_names(tenant.registry_auths, tpod),
                                  pod_api=pod_api_access(tenant, tpod),
                                  dataset_claims=pod_dataset_claims(
                                      tenant, tpod, Target(edge.name, placement.node)))
        too_big = oversized_annotations(epod)
        if too_big:
            self.create_refusals.remember(tpod)
            await self._reject(tenant, tpod, EDGE_REFUSED, too_big)
            return None
        # Assumed before the first await: other workers schedule while this one waits.
        self.ctx.placer.assume(edge.name, placement.node, epod)
        creating = False
        try:
            await self.ctx.namespaces.ensure(tenant, edge, tpod["metadata"]["namespace"])
            for dependents in self.ctx.pod_dependents:
                await dependents.ensure_for_pod(tenant, edge, tpod)
            creating = True  # from here on, a refusal is the edge's answer to this pod
            self.echoes.creating(tpod["metadata"]["uid"], edge.name)
            await edge.client.create(PODS, epod, namespace=ns)
        except NameTaken as err:  # something the pod needs: the tenant is told, not a loop
            self.ctx.placer.forget(edge.name, ns, epod["metadata"]["name"])
            await self._reject(tenant, tpod, "NameTaken", err.for_tenant())
            return None
        except KubeError as err:
            if not err.conflict or not await ours_exists(edge, tenant, tpod, ns):
                self.echoes.forget(tpod["metadata"]["uid"])
                self.ctx.placer.forget(edge.name, ns, epod["metadata"]["name"])
                if err.conflict:
                    await self._reject(tenant, tpod, "NameTaken", "an object not managed by "
                                       "fusionvc holds this pod's name in the edge cluster")
                    return None
                if creating and is_refusal(err):
                    return await self._edge_refused(tenant, tpod, edge.name, ns, err)
                raise
        await self.ctx.virtual_nodes.ensure(tenant, edge, placement.node)
        if tpod["spec"].get("nodeName"):  # bound by the tenant: record where it runs
            where = {markers.EDGE_CLUSTER: edge.name, markers.EDGE_NODE: placement.node}
            await tenant.client.patch(PODS, tpod["metadata"]["name"],
                                      {"metadata": {"annotations": where}},
                                      namespace=tpod["metadata"]["namespace"])
            return None
        self.echoes.binding(tpod["metadata"]["uid"])
        await self._bind(tenant, tpod, edge.name, placement.node, vnode)
        return None

    async def _edge_refused(self, tenant: TenantConn, tpod: Obj, cluster: str, ns: str,
                            err: KubeError) -> float | None:
        """An edge 4xx on create: PodScheduled=False and an Event in tenant terms; a permanent
        refusal waits for the pod to change, a quota refusal is tried again later."""
        log.info("edge refused pod", tenant=tenant.name, edge=cluster, status=err.status,
                 pod=f"{tpod['metadata']['namespace']}/{tpod['metadata']['name']}",
                 reason=err.reason)
        await self._reject(tenant, tpod, EDGE_REFUSED, refusal_message(
            err, edge_namespace=ns, tenant_namespace=tpod["metadata"]["namespace"],
            edge_cluster=cluster))
        if is_permanent(err):
            self.create_refusals.remember(tpod)
            return None
        return QUOTA_RETRY_SECONDS

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
        self._bound[meta["uid"]] = True

    async def _update(self, tenant: TenantConn, tpod: Obj, edge: EdgeConn, epod: Obj) -> None:
        if not tpod["spec"].get("nodeName"):
            # Bound now (or already, the tenant cache lagging): its status goes up at once,
            # not after the binding's tenant event has waited its turn.
            if tpod["metadata"]["uid"] not in self._bound:
                node = epod["spec"]["nodeName"]
                await self.ctx.virtual_nodes.ensure(tenant, edge, node)
                self.echoes.binding(tpod["metadata"]["uid"])
                await self._bind(tenant, tpod, edge.name, node,
                                 virtual_node_name(edge.name, node))
            await self.status_up.mirror(tenant, tpod, epod)
            return
        desired = translate_pod_down(tpod, tenant=tenant.name,
                                     edge_namespace=epod["metadata"]["namespace"],
                                     edge_node=epod["spec"]["nodeName"],
                                     virtual_node=tpod["spec"]["nodeName"],
                                     runtime_class=_edge_runtime_class(tenant, tpod))
        patch = update_patch(epod, desired)
        # A label or annotation change leaves the generation as it was: a refused version is
        # the spec, labels and annotations together, so the tenant's next change is tried.
        if patch and not self.update_refusals.refused(tpod):
            try:
                await edge.client.patch(PODS, epod["metadata"]["name"], patch,
                                        namespace=epod["metadata"]["namespace"],
                                        content_type=STRATEGIC_PATCH)
            except KubeError as err:
                if not 400 <= err.status < 500 or err.conflict:
                    raise
                # The edge will refuse this spec until the tenant changes it again: say so
                # once, keep mirroring status, and do not retry this generation.
                self.update_refusals.remember(tpod)
                await self.ctx.recorder.warn(tenant.client, {"kind": "Pod", **tpod},
                                             "UpdateRejected", update_refusal_message(err))
        pending = await carry_resize(self.ctx.placer, edge, epod, desired)
        await self.ephemeral.sync(tenant, tpod, edge, epod, desired)
        await self.status_up.mirror(tenant, tpod, epod, pending)

    async def _reject(self, tenant: TenantConn, tpod: Obj, reason: str, message: str, *,
                      event: bool = True) -> None:
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
        if not event:
            return
        event_reason = "FailedScheduling" if reason == "Unschedulable" else "SyncRejected"
        await self.ctx.recorder.warn(tenant.client, {"kind": "Pod", **tpod}, event_reason, message)

    def _namespace_terminating(self, tenant: TenantConn, tpod: Obj) -> bool:
        ns = tenant.get(NAMESPACES, "", tpod["metadata"]["namespace"])
        return ns is None or bool(ns["metadata"].get("deletionTimestamp"))
