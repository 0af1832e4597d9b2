"""The writes and reads of OCI EdgeDatasets' pull Jobs (``dataset_oci`` holds the pure parts).

``OciWork.start`` creates one node's pull Job in the tenant namespace's edge
namespace, after what such a pod needs (the registry pull Secret, through the
pod dependents, as for a tenant pod or an ImagePrewarm's pull). ``OciWork.state``
reads a Job's state with its pods' pull errors; ``oci_pod_watch`` lets those
pods (found through their own index, they carry no markers) wake their
EdgeDataset, so an unpullable reference shows in ``status.failedNodes`` at once.
"""

from __future__ import annotations

from collections.abc import Iterable

from syncer.core import markers
from syncer.core.context import SyncContext
from syncer.core.keys import WorkKey
from syncer.fleet.conn import EdgeConn, TenantConn, WatchSpec
from syncer.fleet.registries import pull_secret_names
from syncer.kinds.dataset_oci import (
    job_pods,
    oci_job_state,
    translate_oci_job,
    work_pod_index,
)
from syncer.kinds.dataset_translate import DatasetSpec, job_name
from syncer.kinds.edge_targets import NodeState, Target
from syncer.kube import Obj
from syncer.kube.apis import JOBS, PODS
from syncer.kube.client import KubeError

POD_INDEX = "edgedataset-work-key"


def oci_pod_watch() -> WatchSpec:
    return WatchSpec(PODS, indexers=((POD_INDEX, work_pod_index),))


def pod_keys(kind: str, pod: Obj) -> Iterable[WorkKey]:
    """The EdgeDataset key an OCI work pod points back to (none for every other pod)."""
    for value in work_pod_index(pod):
        tenant, namespace, name = value.split("/", 2)
        yield WorkKey(tenant, kind, namespace, name)


class OciWork:
    def __init__(self, ctx: SyncContext) -> None:
        self.ctx = ctx

    def state(self, edge: EdgeConn, job: Obj) -> NodeState:
        pods = [p for value in markers.tenant_key_index(job)
                for p in edge.store(PODS).by_index(POD_INDEX, value)] \
            if PODS.plural in edge.informers else []
        return oci_job_state(job, job_pods(job, pods))

    async def start(self, tenant: TenantConn, dataset: Obj, spec: DatasetSpec,
                    target: Target) -> None:
        edge, ns = self.ctx.edges[target.cluster], dataset["metadata"]["namespace"]
        ens = await self.ctx.namespaces.ensure(tenant, edge, ns)
        job = translate_oci_job(dataset, spec, target, tenant=tenant.name, edge_namespace=ens)
        pod_spec = job["spec"]["template"]["spec"]
        # The pull is a pod of the tenant's: what such a pod needs goes first (credentials).
        work = {"metadata": {"namespace": ns, "name": job_name(
            tenant.name, ns, dataset["metadata"]["name"], spec.sha256, target)},
            "spec": pod_spec}
        for dependents in self.ctx.pod_dependents:
            await dependents.ensure_for_pod(tenant, edge, work)
        secrets = pull_secret_names(tenant.registry_auths, work)
        if secrets:
            pod_spec["imagePullSecrets"] = [{"name": n} for n in secrets]
        try:
            await edge.client.create(JOBS, job, namespace=ens)
        except KubeError as err:
            if not err.conflict:
                raise
