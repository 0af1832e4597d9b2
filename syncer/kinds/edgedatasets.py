"""EdgeDataset (edge.fusionvc.io): a model or data set put on edge nodes before the pods come.

The tenant's EdgeDataset names a source (HTTP(S) URL and SHA-256), a strategy,
copies per region and a target (the same target as ImagePrewarm:
``edge_targets``). fusionvc chooses the nodes (``dataset_translate.choose_nodes``),
runs one download Job per node in its own edge namespace ``fusionvc-datasets``
(the downloader writes into a host folder private to the tenant namespace),
AllAtOnce or Rolling, and writes progress per cluster, the ready nodes and the
failed nodes with their reasons (``ChecksumMismatch``, ``TransferFailed``,
``DeadlineExceeded``) to the EdgeDataset's status, within the tenant's budget
(``dataset_admission``; held copies and copies whose claim is not Bound are
``pendingNodes``: ``dataset_pending``). A changed source replaces every node's
Job; a deleted EdgeDataset's (or Tenant's) Jobs are retired, each by a cleanup
Job that removes its folder from the node (``dataset_cleanup``). Pods that need it
are placed where it is ready (scheduler plugin ``datasetReady``), and mount it
through the PersistentVolume and claim each ready copy gets (``dataset_claims``).
An OCI artifact source is pulled by a Job mounting it as an image volume in the
tenant's edge namespace, and mounted the same way, without PV or claim
(``dataset_oci``); OnFirstUse distributes to the nodes where pods that name the
dataset were placed (``dataset_first_use``).
"""

from __future__ import annotations

from collections.abc import Iterable

import structlog

from syncer.core import markers
from syncer.core.context import SyncContext
from syncer.core.keys import WorkKey
from syncer.core.names import edge_namespace
from syncer.fleet.conn import EdgeConn, TenantConn, WatchSpec
from syncer.kinds.dataset_admission import TransferAdmission
from syncer.kinds.dataset_claims import (
    DatasetVolumes,
    claim_phases,
    volume_keys,
    volume_watches,
)
from syncer.kinds.dataset_cleanup import cleaning, retire, settle, split_cleanups
from syncer.kinds.dataset_first_use_gate import first_use_candidates, wake_waiting_pods
from syncer.kinds.dataset_oci_work import OciWork, oci_pod_watch, pod_keys
from syncer.kinds.dataset_pending import readiness, with_pending
from syncer.kinds.dataset_quota import Hold
from syncer.kinds.dataset_status import final_status, invalid_status
from syncer.kinds.dataset_translate import (
    DATASET_LABEL,
    DATASET_NAMESPACE,
    SOURCE_ANNOTATION,
    DatasetError,
    DatasetSpec,
    choose_nodes,
    dataset_job_state,
    dataset_status,
    job_name,
    job_resources,
    parse_dataset_spec,
    to_start,
    translate_dataset_job,
)
from syncer.kinds.edge_targets import NodeState, Target, target_nodes, write_status
from syncer.kinds.node_work import NO_TARGET_RETRY, NodeWorkSyncer, job_watch
from syncer.kube import Obj
from syncer.kube.apis import EDGEDATASETS, JOBS, NAMESPACES, PERSISTENTVOLUMES, PODS
from syncer.kube.client import KubeError
from syncer.ops.settings import DatasetSettings

log = structlog.get_logger(__name__)
HELD_RETRY = 15.0  # a copy held by the tenant's budget or refused by the edge: look again


class EdgeDatasetSyncer(NodeWorkSyncer):
    kind = "EdgeDataset"
    resource, work_label, index = EDGEDATASETS, DATASET_LABEL, "edgedataset-key"
    tenant_watches = (WatchSpec(EDGEDATASETS),)
    edge_watches = (job_watch(DATASET_LABEL, "edgedataset-key"), *volume_watches(),
                    oci_pod_watch())
    cluster_scoped_copies = (PERSISTENTVOLUMES,)

    def __init__(self, ctx: SyncContext) -> None:
        super().__init__(ctx)
        self._namespace_ready: set[str] = set()  # edges where fusionvc-datasets exists
        self.volumes = DatasetVolumes(ctx)
        self.oci = OciWork(ctx)  # OCI sources: image-volume pulls (dataset_oci)
        self.admission = TransferAdmission(ctx)  # Tenant.spec.datasets (dataset_quota.py)
        self.job_settings = DatasetSettings()  # the daemon's settings.datasets

    def edge_event(self, edge: EdgeConn, watch: str, old: Obj | None,
                   new: Obj | None) -> Iterable[WorkKey]:
        if watch == PODS.plural:  # an OCI pull pod (its pull errors)
            return {k for o in (old, new) if o is not None for k in pod_keys(self.kind, o)}
        return super().edge_event(edge, watch, old, new)

    def scan(self, tenant: TenantConn) -> set[WorkKey]:
        return {*super().scan(tenant), *volume_keys(self.ctx.edges.values(), tenant.name,
                                                    self.kind)}

    # ---- reconcile ---------------------------------------------------------------------

    async def reconcile(self, key: WorkKey) -> float | None:
        jobs, cleanups = split_cleanups(self.copy_jobs(key))
        await settle(cleanups)  # folders of copies that went (a deleted Tenant's too)
        tenant = self.ctx.tenants.get(key.tenant)
        if tenant is None:
            return None
        dataset = tenant.get(EDGEDATASETS, key.namespace, key.name)
        if dataset is None or dataset["metadata"].get("deletionTimestamp"):
            for edge, job in jobs:
                await retire(edge, job, self.job_settings)
            await self.volumes.converge(tenant, key, None, None, ())
            return None
        try:
            spec = parse_dataset_spec(dataset.get("spec") or {})
        except DatasetError as err:
            await write_status(tenant, EDGEDATASETS, dataset,
                               invalid_status(err, dataset.get("status") or {}))
            await self.invalid_spec(tenant, dataset, err)
            await self.volumes.converge(tenant, key, None, None, ())
            return None
        current: dict[Target, NodeState] = {}
        for edge, job in jobs:
            meta = job["metadata"]
            if meta.get("deletionTimestamp"):
                continue  # retired: its cleanup Job waits for it
            if (meta.get("annotations") or {}).get(SOURCE_ANNOTATION) != spec.sha256:
                await retire(edge, job, self.job_settings)  # the source changed: start over
                continue
            current[Target(edge.name, meta["annotations"].get(markers.EDGE_NODE, ""))] = \
                self.oci.state(edge, job) if spec.oci else dataset_job_state(job)
        candidates, copies = first_use_candidates(
            tenant, key, spec, target_nodes(self.ctx.edges.values(), tenant, spec, key.namespace))
        chosen = choose_nodes(candidates, current, copies, dataset["metadata"].get("uid", key.name))
        states: dict[Target, NodeState | None] = {t: current.get(t) for t in chosen}

        async def start(target: Target) -> None:
            await self._start(tenant, dataset, spec, target)
            states[target] = NodeState("active")

        busy = cleaning(cleanups)  # a copy's old folder still being removed: later
        wanted = [t for t in to_start(states, spec) if (t.cluster, job_name(
            tenant.name, key.namespace, key.name, spec.sha256, t)) not in busy]
        held = await self.admission.start(tenant, dataset, spec, wanted, start)
        wake_waiting_pods(self.ctx, tenant, key, spec, states)  # OnFirstUse pods go on
        return await self._report(tenant, key, dataset, spec, states, held)

    async def _report(self, tenant: TenantConn, key: WorkKey, dataset: Obj, spec: DatasetSpec,
                      states: dict[Target, NodeState | None], held: dict[Target, Hold]
                      ) -> float | None:
        """The volumes of the downloaded copies, then the status: ready copies (claim Bound;
        an OCI copy is mounted as an image volume, without PV or claim), pending ones with
        why; when to look again."""
        ready = [t for t, s in states.items() if s is not None and s.state == "succeeded"]
        claimed = [] if spec.oci is not None else ready
        refused = await self.volumes.converge(tenant, key, dataset, spec, claimed)
        phases = {t: "Bound" for t in ready} if spec.oci is not None else claim_phases(
            self.ctx.edges, tenant, dataset, spec, ready)
        shown, pending = readiness(states, phases, refused, held)
        await self.admission.announce(tenant, dataset, held)
        await write_status(tenant, EDGEDATASETS, dataset, final_status(
            spec, with_pending(dataset_status(shown), pending), dataset.get("status") or {}))
        if held or refused:
            return HELD_RETRY  # a slot or quota of another object may free up
        return NO_TARGET_RETRY if not states else None

    def copy_jobs(self, key: WorkKey) -> list[tuple[EdgeConn, Obj]]:
        """The download and cleanup Jobs of the key's EdgeDataset (its Tenant may be gone)."""
        value = f"{key.tenant}/{key.namespace}/{key.name}"
        return [(edge, job) for edge in self.ctx.edges.values() if edge.synced
                for job in edge.store(JOBS).by_index(self.index, value)]

    async def remove_tenant(self, tenant: str) -> None:
        """A deleted Tenant's download Jobs are retired (their folders cleaned) on every edge."""
        self.admission.forget(tenant)
        selector = f"{markers.MANAGED_SELECTOR},{markers.TENANT}={tenant},{DATASET_LABEL}"
        for edge in list(self.ctx.edges.values()):
            found = await edge.client.list(JOBS, namespace=DATASET_NAMESPACE,
                                           labelSelector=selector)
            downloads, _ = split_cleanups((edge, j) for j in found.get("items", [])
                                          if markers.tenant_of(j) == tenant)
            for _, job in downloads:
                await retire(edge, job, self.job_settings)

    async def _start(self, tenant: TenantConn, dataset: Obj, spec: DatasetSpec,
                     target: Target) -> None:
        if spec.oci is not None:
            await self.oci.start(tenant, dataset, spec, target)
            return
        edge = self.ctx.edges[target.cluster]
        await self._ensure_namespace(edge)
        ens = edge_namespace(tenant.name, tenant.uid, dataset["metadata"]["namespace"])
        job = translate_dataset_job(dataset, spec, target, tenant=tenant.name,
                                    edge_namespace=ens, image=self.job_settings.image,
                                    resources=job_resources(self.job_settings))
        try:
            await edge.client.create(JOBS, job, namespace=DATASET_NAMESPACE)
        except KubeError as err:
            if err.not_found:
                self._namespace_ready.discard(edge.name)
            if not err.conflict:
                raise

    async def _ensure_namespace(self, edge: EdgeConn) -> None:
        if edge.name in self._namespace_ready:
            return
        body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {
            "name": DATASET_NAMESPACE,
            "labels": {markers.MANAGED_BY: markers.MANAGED_BY_VALUE,
                       # the downloader writes to a host folder: fusionvc's pods only
                       "pod-security.kubernetes.io/enforce": "privileged"}}}
        try:
            await edge.client.create(NAMESPACES, body)
        except KubeError as err:
            if not err.conflict:
                raise
        self._namespace_ready.add(edge.name)
