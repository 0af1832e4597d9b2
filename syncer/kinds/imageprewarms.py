"""ImagePrewarm (edge.fusionvc.io): images pulled onto edge nodes before the pods come.

The tenant's ImagePrewarm names images and a target (a label selector over the
virtual nodes' labels, clusters, regions); fusionvc runs one pull Job per target
node in the tenant's edge namespace of the same namespace (its quota and
isolation apply; ``prewarm_translate``), at most ``parallelism`` at a time over
all clusters, with the pull credentials of the tenant's platform registries when
the images come from them (the pod dependents, as for a pod). Progress per
cluster and the failed nodes with their reasons go to the ImagePrewarm's status.
Once finished, no new Job is started; ``ttlSecondsAfterFinished`` deletes the
ImagePrewarm, and the Jobs of an ImagePrewarm that is gone are deleted.

Targets (``edge_targets``: labels, clusters, regions, "where this Deployment
runs") are limited to the clusters and regions the tenant's scheduling policy
allows, and to nodes not cordoned.
"""

from __future__ import annotations

import datetime as dt

import structlog

from syncer.core import markers
from syncer.core.conditions import now_rfc3339
from syncer.core.keys import WorkKey
from syncer.fleet.conn import EdgeConn, TenantConn, WatchSpec
from syncer.fleet.registries import pull_secret_names
from syncer.kinds.edge_targets import delete_job, target_nodes, write_status
from syncer.kinds.node_work import NO_TARGET_RETRY, NodeWorkSyncer, job_watch
from syncer.kinds.prewarm_translate import (
    PREWARM_LABEL,
    NodeState,
    PrewarmError,
    PrewarmSpec,
    Target,
    job_name,
    job_state,
    parse_prewarm_spec,
    prewarm_status,
    to_create,
    translate_prewarm_job,
    work_pod_spec,
)
from syncer.kube import Obj
from syncer.kube.apis import IMAGEPREWARMS, JOBS
from syncer.kube.client import KubeError

log = structlog.get_logger(__name__)


def _seconds_since(rfc3339: str, now: dt.datetime) -> float:
    then = dt.datetime.strptime(rfc3339, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    return (now - then).total_seconds()


class ImagePrewarmSyncer(NodeWorkSyncer):
    kind = "ImagePrewarm"
    resource, work_label, index = IMAGEPREWARMS, PREWARM_LABEL, "imageprewarm-key"
    tenant_watches = (WatchSpec(IMAGEPREWARMS),)
    edge_watches = (job_watch(PREWARM_LABEL, "imageprewarm-key"),)

    # ---- reading -----------------------------------------------------------------------

    def targets(self, tenant: TenantConn, spec: PrewarmSpec, namespace: str) -> list[Target]:
        return [t for t, _region in target_nodes(self.ctx.edges.values(), tenant, spec,
                                                 namespace)]

    # ---- reconcile ---------------------------------------------------------------------

    async def reconcile(self, key: WorkKey) -> float | None:
        tenant = self.ctx.tenants.get(key.tenant)
        if tenant is None:
            return None
        prewarm = tenant.get(IMAGEPREWARMS, key.namespace, key.name)
        jobs = self.jobs(tenant, key)
        if prewarm is None or prewarm["metadata"].get("deletionTimestamp"):
            for edge, job in jobs:
                await delete_job(edge, job)
            return None
        try:
            spec = parse_prewarm_spec(prewarm.get("spec") or {})
        except PrewarmError as err:
            await self.invalid_spec(tenant, prewarm, err)
            return None
        previous = prewarm.get("status") or {}
        if previous.get("completionTime"):
            return await self._expire(tenant, prewarm, spec, jobs)
        states = self._states(tenant, spec, jobs, key.namespace)
        for target in to_create(states, spec.parallelism):
            await self._start(tenant, prewarm, spec, target)
            states[target] = NodeState("active")
        status = prewarm_status(states, previous, now_rfc3339())
        await write_status(tenant, IMAGEPREWARMS, prewarm, status)
        if not states:
            return NO_TARGET_RETRY
        left = self._ttl_left(spec, status)
        return None if left is None else max(left, 0.01)

    def _states(self, tenant: TenantConn, spec: PrewarmSpec,
                jobs: list[tuple[EdgeConn, Obj]], namespace: str
                ) -> dict[Target, NodeState | None]:
        states: dict[Target, NodeState | None] = dict.fromkeys(
            self.targets(tenant, spec, namespace))
        for edge, job in jobs:  # a node that left the target keeps the state of its Job
            node = (job["metadata"].get("annotations") or {}).get(markers.EDGE_NODE, "")
            states[Target(edge.name, node)] = job_state(job)
        return states

    async def _start(self, tenant: TenantConn, prewarm: Obj, spec: PrewarmSpec,
                     target: Target) -> None:
        edge, ns = self.ctx.edges[target.cluster], prewarm["metadata"]["namespace"]
        ens = await self.ctx.namespaces.ensure(tenant, edge, ns)
        # The work is a pod of the tenant's: what such a pod needs goes first (credentials).
        work = {"metadata": {"namespace": ns, "name": job_name(prewarm["metadata"]["name"],
                                                                 target)},
                "spec": work_pod_spec(spec, target.node, ())}
        for dependents in self.ctx.pod_dependents:
            await dependents.ensure_for_pod(tenant, edge, work)
        job = translate_prewarm_job(prewarm, spec, target, tenant=tenant.name,
                                    edge_namespace=ens,
                                    pull_secrets=pull_secret_names(tenant.registry_auths, work))
        try:
            await edge.client.create(JOBS, job, namespace=ens)
        except KubeError as err:
            if not err.conflict:
                raise

    async def _expire(self, tenant: TenantConn, prewarm: Obj, spec: PrewarmSpec,
                      jobs: list[tuple[EdgeConn, Obj]]) -> float | None:
        """A finished ImagePrewarm: deleted once its TTL is over (its Jobs follow)."""
        left = self._ttl_left(spec, prewarm.get("status") or {})
        if left is None or left > 0:
            return left
        meta = prewarm["metadata"]
        await tenant.client.delete(IMAGEPREWARMS, meta["name"], meta["namespace"],
                                   uid=meta["uid"])
        for edge, job in jobs:
            await delete_job(edge, job)
        return None

    @staticmethod
    def _ttl_left(spec: PrewarmSpec, status: Obj) -> float | None:
        done = status.get("completionTime")
        if spec.ttl_s is None or not done:
            return None
        return max(0.0, spec.ttl_s - _seconds_since(done, dt.datetime.now(dt.UTC)))
