"""The edge PersistentVolumes and claims of EdgeDatasets' ready copies (writes), and the
claims a tenant pod's edge copy names.

``DatasetVolumes.converge`` gives every ready copy (dataset, node) its pair
(``dataset_volumes.translate_dataset_volumes``) and deletes every other pair of the
dataset on every edge: a copy gone or failed, a changed source (the names hash
it), a deleted EdgeDataset. The pairs carry fusionvc's markers (the tenant's
label, the EdgeDataset as their tenant object, ``edge.fusionvc.io/edgedataset``),
so drift wakes the EdgeDataset's key, and removing the Tenant deletes the
volumes by label (the claims go with its edge namespaces). An edge refusal of a
claim (a quota of the edge namespace) is a Warning Event on the EdgeDataset.

``pod_dataset_claims`` is what the pod syncer passes to ``translate_pod_down``:
the claim of each dataset the pod names on the node it runs on (the fusion
scheduler placed it where the dataset is ready: ``datasetReady``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

import structlog

from scheduler.datasets import dataset_names
from syncer.core import markers
from syncer.core.context import SyncContext
from syncer.core.keys import WorkKey
from syncer.core.names import edge_namespace
from syncer.fleet.conn import EdgeConn, TenantConn, WatchSpec
from syncer.kinds.dataset_oci import DatasetMount, oci_mount
from syncer.kinds.dataset_translate import (
    DATASET_LABEL,
    DatasetError,
    DatasetSpec,
    parse_dataset_spec,
)
from syncer.kinds.dataset_volumes import (
    HOSTNAME_LABEL,
    claim_name,
    translate_dataset_volumes,
    volume_name,
)
from syncer.kinds.edge_targets import Target
from syncer.kinds.node_work import work_index
from syncer.kube import Obj
from syncer.kube.apis import EDGEDATASETS, NODES, PERSISTENTVOLUMES, PVCS, ResourceType
from syncer.kube.client import KubeError

log = structlog.get_logger(__name__)
INDEX = "edgedataset-key"  # "<tenant>/<namespace>/<name>" of the EdgeDataset
VOLUME_KINDS = (PERSISTENTVOLUMES, PVCS)


def volume_watches() -> tuple[WatchSpec, ...]:
    index = ((INDEX, work_index(DATASET_LABEL)),)
    return tuple(WatchSpec(rt, markers.MANAGED_SELECTOR, index) for rt in VOLUME_KINDS)


def volume_keys(edges: Iterable[EdgeConn], tenant: str, kind: str) -> set[WorkKey]:
    """Keys of the EdgeDatasets whose volumes or claims are on some edge (for the scan)."""
    keys = set()
    for edge in edges:
        for rt in VOLUME_KINDS:
            if rt.plural not in edge.informers:
                continue
            for value in edge.store(rt).index_values(INDEX):
                owner, ns, name = value.split("/", 2)
                if owner == tenant:
                    keys.add(WorkKey(tenant, kind, ns, name))
    return keys


def pod_dataset_specs(tenant: TenantConn, pod: Obj) -> Iterator[tuple[str, Obj, DatasetSpec]]:
    """(name, EdgeDataset, spec) of the datasets the pod names that exist with a valid spec."""
    if EDGEDATASETS.plural not in tenant.informers:
        return
    ns = pod["metadata"]["namespace"]
    for name in dataset_names(pod):
        dataset = tenant.get(EDGEDATASETS, ns, name)
        if dataset is None or dataset["metadata"].get("deletionTimestamp"):
            continue
        try:
            yield name, dataset, parse_dataset_spec(dataset.get("spec") or {})
        except DatasetError:
            continue


def pod_dataset_claims(tenant: TenantConn, pod: Obj, target: Target) -> dict[str, DatasetMount]:
    """Dataset name -> its edge claim on ``target`` (an image volume for an OCI source), for
    the datasets the pod names that exist with a valid source (the others are not mounted:
    the pod was placed without them only when the tenant bound it itself)."""
    ns = pod["metadata"]["namespace"]
    return {name: claim_name(tenant.name, ns, name, spec.sha256, target) if spec.oci is None
            else oci_mount(spec.oci, tenant.registry_auths)
            for name, _dataset, spec in pod_dataset_specs(tenant, pod)}


def claim_phases(edges: Mapping[str, EdgeConn], tenant: TenantConn, dataset: Obj,
                 spec: DatasetSpec, targets: Iterable[Target]) -> dict[Target, str | None]:
    """The phase of each copy's edge claim in the edge caches (None: not there, or being
    deleted)."""
    meta, out = dataset["metadata"], {}
    ens = edge_namespace(tenant.name, tenant.uid, meta["namespace"])
    for target in targets:
        edge = edges.get(target.cluster)
        claim = None if edge is None or PVCS.plural not in edge.informers else edge.get(
            PVCS, ens, claim_name(tenant.name, meta["namespace"], meta["name"], spec.sha256,
                                  target))
        out[target] = None if claim is None or claim["metadata"].get("deletionTimestamp") \
            else str((claim.get("status") or {}).get("phase") or "Pending")
    return out


class DatasetVolumes:
    def __init__(self, ctx: SyncContext) -> None:
        self.ctx = ctx

    async def converge(self, tenant: TenantConn, key: WorkKey, dataset: Obj | None,
                       spec: DatasetSpec | None, ready: Iterable[Target]) -> dict[Target, str]:
        """The pairs of ``ready`` copies (none without ``dataset``) on every synced edge;
        returns the copies whose pair the edge refused, with the edge's message."""
        value, targets = f"{tenant.name}/{key.namespace}/{key.name}", list(ready)
        refused: dict[Target, str] = {}
        for edge in self.ctx.edges.values():
            if not edge.synced or not all(rt.plural in edge.informers for rt in VOLUME_KINDS):
                continue
            want: dict[tuple[str, str], Target] = {}
            if dataset is not None and spec is not None:
                want = {(volume_name(tenant.name, key.namespace, key.name, spec.sha256, t),
                         claim_name(tenant.name, key.namespace, key.name, spec.sha256, t)): t
                        for t in targets if t.cluster == edge.name}
            have = {rt.plural: {o["metadata"]["name"]: o for o in
                                edge.store(rt).by_index(INDEX, value)} for rt in VOLUME_KINDS}
            for (volume, claim), target in sorted(want.items()):
                if volume not in have[PERSISTENTVOLUMES.plural] or \
                        claim not in have[PVCS.plural]:
                    assert dataset is not None and spec is not None
                    why = await self._create(tenant, edge, dataset, spec, target, have)
                    if why is not None:
                        refused[target] = why
            await self._remove(edge, PVCS, have[PVCS.plural], {c for _, c in want})
            await self._remove(edge, PERSISTENTVOLUMES, have[PERSISTENTVOLUMES.plural],
                               {v for v, _ in want})
        return refused

    async def _create(self, tenant: TenantConn, edge: EdgeConn, dataset: Obj, spec: DatasetSpec,
                      target: Target, have: dict[str, dict[str, Obj]]) -> str | None:
        ens = await self.ctx.namespaces.ensure(tenant, edge, dataset["metadata"]["namespace"])
        node = edge.get(NODES, "", target.node) if NODES.plural in edge.informers else None
        hostname = ((node or {}).get("metadata", {}).get("labels") or {}).get(
            HOSTNAME_LABEL, target.node)
        pv, pvc = translate_dataset_volumes(dataset, spec, target, tenant=tenant.name,
                                            edge_namespace=ens, hostname=hostname)
        for rt, obj in ((PERSISTENTVOLUMES, pv), (PVCS, pvc)):
            if obj["metadata"]["name"] in have[rt.plural]:
                continue
            try:
                await edge.client.create(rt, obj, namespace=obj["metadata"].get("namespace"))
            except KubeError as err:
                if err.conflict:
                    continue
                if not 400 <= err.status < 500:
                    raise
                why = (f"{edge.name} refused the {rt.kind} of the copy on {target.node} "
                       f"({err.reason or err.status}): "
                       f"{err.message.replace(ens, dataset['metadata']['namespace'])}")
                await self.ctx.recorder.warn(
                    tenant.client, {"kind": "EdgeDataset", **dataset}, "VolumeRefused", why)
                return why
        return None

    @staticmethod
    async def _remove(edge: EdgeConn, rt: ResourceType, have: dict[str, Obj],
                      keep: set[str]) -> None:
        for name, obj in sorted(have.items()):
            meta = obj["metadata"]
            if name in keep or meta.get("deletionTimestamp"):
                continue
            log.info("removing dataset volume", edge=edge.name, kind=rt.kind, name=name)
            try:
                await edge.client.delete(rt, name, meta.get("namespace") or None, uid=meta["uid"])
            except KubeError as err:
                if not err.not_found:
                    raise
