"""OnFirstUse EdgeDatasets at the pod syncer: the pod the scheduler sees, and the wait between
placing a pod and creating its edge copy (``dataset_first_use`` holds the pure rules).

``FirstUseGate.view`` is the tenant pod as the scheduler gets it (its OnFirstUse
datasets not required ready, a required node affinity bounding it to where a copy
may go). ``FirstUseGate.hold`` runs before the edge copy is created: when an
OnFirstUse dataset the pod names is not ready on the chosen node, it binds the
pod there (that is what starts the transfer: the EdgeDataset's reconcile, woken
here, finds the bound pod), sets ``ContainersReady``/``Ready`` False with reason
``WaitingForDataset`` and a Normal Event, and asks to be called again; once every
copy is ready, the edge copy is made as for any pod. A failed transfer fails the
pod (reason ``DatasetTransferFailed``, the node's reason in the message, a
Warning Event and the same conditions), so its controller makes a new one, which
the view keeps off the failed node.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from syncer.core import markers
from syncer.core.conditions import same_condition, set_condition
from syncer.core.context import SyncContext
from syncer.core.keys import WorkKey
from syncer.fleet.conn import TenantConn
from syncer.kinds.dataset_claims import INDEX, pod_dataset_specs
from syncer.kinds.dataset_first_use import (
    FAILED_REASON,
    WAITING_REASON,
    bound_terms,
    dataset_key,
    demanded_targets,
    is_first_use,
    placement_view,
    select_first_use,
    transfer_state,
    waiting_pods,
)
from syncer.kinds.dataset_oci_work import OciWork
from syncer.kinds.dataset_translate import (
    SOURCE_ANNOTATION,
    DatasetSpec,
    dataset_job_state,
)
from syncer.kinds.edge_targets import NodeState, Target
from syncer.kinds.pod_status import fail_pod
from syncer.kube import Obj
from syncer.kube.apis import JOBS, PODS
from syncer.placement import Placement

WAIT_RETRY = 10.0  # a waiting pod looks again (the EdgeDataset also wakes it: wake_waiting_pods)
Bind = Callable[[TenantConn, Obj, str, str, str], Awaitable[None]]


def first_use_candidates(tenant: TenantConn, key: WorkKey, spec: DatasetSpec,
                         candidates: list[tuple[Target, str]]
                         ) -> tuple[list[tuple[Target, str]], int | None]:
    """``choose_nodes``' candidates and copies per region (OnFirstUse: the asked-for nodes)."""
    if not is_first_use(spec):
        return candidates, spec.copies_per_region
    demanded = demanded_targets(tenant.store(PODS), key.namespace, key.name)
    return select_first_use(spec, candidates, demanded)


def wake_waiting_pods(ctx: SyncContext, tenant: TenantConn, key: WorkKey, spec: DatasetSpec,
                      states: Mapping[Target, NodeState | None]) -> None:
    """Queues the pods that wait for this OnFirstUse dataset on a node whose transfer has
    ended, so they start (or fail) now rather than at their next look."""
    if not is_first_use(spec):
        return
    finished = {t for t, s in states.items() if s is not None and s.state != "active"}
    if finished:
        for name in waiting_pods(tenant.store(PODS), key.namespace, key.name, finished):
            ctx.queue.add(WorkKey(tenant.name, "Pod", key.namespace, name))


def first_use_datasets(tenant: TenantConn, pod: Obj) -> dict[str, tuple[Obj, DatasetSpec]]:
    """The pod's datasets (existing, valid) that are distributed OnFirstUse."""
    return {name: (dataset, spec) for name, dataset, spec in pod_dataset_specs(tenant, pod)
            if is_first_use(spec)}


class FirstUseGate:
    def __init__(self, ctx: SyncContext, bind: Bind) -> None:
        self.ctx, self.bind = ctx, bind
        self.oci = OciWork(ctx)

    def copy_states(self, tenant: str, namespace: str, name: str,
                    spec: DatasetSpec) -> dict[Target, tuple[NodeState, str]]:
        """(state, region) of every node's copy of the dataset's current source."""
        value, found = f"{tenant}/{namespace}/{name}", {}
        for edge in self.ctx.edges.values():
            if not edge.synced or JOBS.plural not in edge.informers:
                continue
            for job in edge.store(JOBS).by_index(INDEX, value):
                ann = job["metadata"].get("annotations") or {}
                if ann.get(SOURCE_ANNOTATION) != spec.sha256:
                    continue
                state = self.oci.state(edge, job) if spec.oci else dataset_job_state(job)
                found[Target(edge.name, ann.get(markers.EDGE_NODE, ""))] = (state, edge.region)
        return found

    def view(self, tenant: TenantConn, pod: Obj) -> Obj:
        """The pod as the scheduler gets it (itself when it names no OnFirstUse dataset)."""
        first_use = first_use_datasets(tenant, pod)
        if pod["spec"].get("nodeName"):
            return placement_view(pod, first_use, ())  # admitted to its node: no bound
        terms = []
        ns = pod["metadata"]["namespace"]
        for name, (dataset, spec) in sorted(first_use.items()):
            states = self.copy_states(tenant.name, ns, name, spec)
            held = {t: region for t, (s, region) in states.items() if s.state != "failed"}
            for target in demanded_targets(tenant.store(PODS), ns, name):
                edge = self.ctx.edges.get(target.cluster)
                if edge is not None:
                    held.setdefault(target, edge.region)
            failed = [t for t, (s, _) in states.items() if s.state == "failed"]
            terms.append(bound_terms(spec, (dataset.get("spec") or {}).get("target") or {},
                                     held, failed))
        return placement_view(pod, first_use, terms)

    async def hold(self, tenant: TenantConn, tpod: Obj, placement: Placement) -> float | None:
        """None when the pod's edge copy may be made now; else when to look again."""
        first_use = first_use_datasets(tenant, tpod)
        if not first_use:
            return None
        target, ns = Target(placement.cluster, placement.node), tpod["metadata"]["namespace"]
        states: dict[str, NodeState | None] = {}
        for name, (_dataset, spec) in first_use.items():
            found = self.copy_states(tenant.name, ns, name, spec).get(target)
            states[name] = found[0] if found else None
        state, reason, message = transfer_state(states)
        if state == "ready":
            return None
        await self._bind(tenant, tpod, target)
        for name in first_use:  # the transfer starts from the EdgeDataset's reconcile
            self.ctx.queue.add(dataset_key(tenant.name, ns, name))
        await self._tell(tenant, tpod, state == "failed", reason, message)
        return WAIT_RETRY  # a failed pod is terminal: the next reconcile leaves it

    async def _bind(self, tenant: TenantConn, tpod: Obj, target: Target) -> None:
        """Bound to the node (fusionvc's binding), or, bound by the tenant, annotated with
        the edge node behind it: either way the EdgeDataset sees where a copy is wanted."""
        meta = tpod["metadata"]
        if not tpod["spec"].get("nodeName"):
            await self.bind(tenant, tpod, target.cluster, target.node, target.virtual_node)
            return
        where = {markers.EDGE_CLUSTER: target.cluster, markers.EDGE_NODE: target.node}
        if any((meta.get("annotations") or {}).get(k) != v for k, v in where.items()):
            await tenant.client.patch(PODS, meta["name"], {"metadata": {"annotations": where}},
                                      namespace=meta["namespace"])

    async def _tell(self, tenant: TenantConn, tpod: Obj, failed: bool, reason: str,
                    message: str) -> None:
        if not same_condition(tpod, "ContainersReady", "False", reason, message):
            conditions = tpod.get("status", {}).get("conditions")
            for ctype in ("ContainersReady", "Ready"):
                conditions = set_condition(conditions, ctype, "False", reason, message)
            meta = tpod["metadata"]
            await tenant.client.patch(PODS, meta["name"], {"status": {"conditions": conditions}},
                                      namespace=meta["namespace"], subresource="status")
            if not failed:
                await self.ctx.recorder.record(tenant.client, {"kind": "Pod", **tpod}, "Normal",
                                               WAITING_REASON, message)
        if failed:
            await fail_pod(tenant, self.ctx.recorder, tpod, FAILED_REASON, message)
