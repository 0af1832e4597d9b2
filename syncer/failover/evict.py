"""Apply layer for tenant pods on an edge cluster that is not admitted.

Level-triggered: every tick looks at the tenant caches and does what
``plan.plan_pod`` says for each pod still bound to the cluster, so a syncer
restarted in the middle of a failover simply carries on. A tenant whose API
server does not answer is skipped for this tick (never mistaken for an edge
loss, never blocking the other tenants for longer than one call's timeout).
"""

from __future__ import annotations

import structlog

from syncer.core.context import SyncContext
from syncer.failover import plan
from syncer.failover.plan import PodAction
from syncer.fleet.conn import TenantConn
from syncer.kube import Obj
from syncer.kube.apis import PODS
from syncer.kube.client import KubeError
from syncer.ops.metrics import Metrics

log = structlog.get_logger(__name__)


class PodEvictor:
    def __init__(self, ctx: SyncContext, metrics: Metrics) -> None:
        self.ctx, self.metrics = ctx, metrics

    async def apply(self, edge: str, *, moving: bool, out_of_service: bool, since: str) -> None:
        for tenant in list(self.ctx.tenants.values()):
            if not tenant.synced:
                continue
            pods = [p for p in tenant.store(PODS) if plan.on_cluster(p, edge)]
            try:
                for pod in pods:
                    action = plan.plan_pod(pod, moving=moving, out_of_service=out_of_service)
                    await self._do(tenant, pod, action, edge, since)
            except KubeError as err:
                log.warning("failover: tenant write failed; next tick retries",
                            tenant=tenant.name, edge=edge, error=str(err))

    async def _do(self, tenant: TenantConn, pod: Obj, action: PodAction, edge: str,
                  since: str) -> None:
        meta = pod["metadata"]
        ns, name = meta["namespace"], meta["name"]
        obj = {"kind": "Pod", **pod}
        if action is PodAction.MARK_NOT_READY:
            await self._patch_status(tenant, pod, {
                "conditions": plan.not_ready_conditions(pod, edge, since)})
            await self.ctx.recorder.warn(tenant.client, obj, plan.REASON,
                                         f"edge cluster {edge} is unreachable since {since}")
        elif action is PodAction.FAIL:
            await self._patch_status(tenant, pod, plan.failed_status(pod, edge))
            await self.ctx.recorder.warn(tenant.client, obj, plan.REASON,
                                         plan.failed_status(pod, edge)["message"])
            self.metrics.failover_pods.labels(edge, "failed").inc()
            log.info("failover: bare pod failed", tenant=tenant.name, pod=f"{ns}/{name}")
        elif action is PodAction.MOVE:
            await self._patch_status(tenant, pod, {
                "conditions": plan.disruption_conditions(pod, edge)})
            owner = plan.controller_kind(pod) or "controller"
            await self.ctx.recorder.record(
                tenant.client, obj, "Normal", "Rescheduled",
                f"edge cluster {edge} is lost: the pod is removed so its {owner} creates a "
                "replacement on a reachable cluster")
            await tenant.client.delete(PODS, name, ns, uid=meta["uid"], grace_seconds=0)
            self.metrics.failover_pods.labels(edge, "moved").inc()
            log.info("failover: pod moved", tenant=tenant.name, pod=f"{ns}/{name}", edge=edge)

    @staticmethod
    async def _patch_status(tenant: TenantConn, pod: Obj, status: Obj) -> None:
        meta = pod["metadata"]
        for cond in status.get("conditions") or []:
            cond.setdefault("lastProbeTime", None)
        try:
            await tenant.client.patch(PODS, meta["name"], {"status": status},
                                      namespace=meta["namespace"], subresource="status")
        except KubeError as err:
            if not err.not_found:
                raise
