"""PersistentVolumeClaims: created in the edge cluster where the first pod using one runs,
kept there (the data lives there), status mirrored up, removed with the tenant's claim.

- Storage classes: an edge cluster offers the tenant storage classes its
  ``EdgeCluster.spec.storageClasses`` maps (tenant class -> edge class); the edge
  copy names the mapped class. A claim naming no class may go anywhere (the edge's
  default class applies).
- Placement: a pod using a claim goes only to a cluster that can satisfy it: the
  one already holding the claim's copy (recorded on the tenant claim as
  ``fusionvc.io/edge-cluster``), else those offering its class. A missing or
  deleting claim keeps the pod Pending with the kube-scheduler's words.
- The edge copy is written just before the first pod that uses it
  (``ensure_for_pod``), in the tenant's edge namespace under the same name; the
  fields copied are accessModes, resources, volumeMode (the tenant's selector,
  volumeName and dataSource name things of the tenant's, not of the edge).
- Status up: phase, accessModes, capacity and conditions of the edge copy become
  the tenant claim's status (the tenant's controller-manager runs without its
  persistentvolume-binder, as vcluster's does, so nothing resets it). A create
  the edge refuses becomes a Warning Event on the claim.
- Ephemeral volumes: the claim the tenant's ephemeral-volume controller makes
  (``<pod>-<volume>``) is copied like any other, and the edge pod reads it as a
  plain claim (``ephemeral_as_claims``); it goes with the tenant pod.
- Deleting the tenant claim deletes the edge copy (the edge's own pvc-protection
  keeps it while the edge pod still runs).
"""

from __future__ import annotations

from collections.abc import Iterable

import structlog

from syncer.core import markers
from syncer.core.context import ClusterConstraint, SyncContext
from syncer.core.keys import WorkKey
from syncer.core.names import edge_namespace
from syncer.core.syncer import ResourceSyncer
from syncer.fleet.conn import EdgeConn, TenantConn, WatchSpec
from syncer.kube import Obj
from syncer.kube.apis import PODS, PVCS
from syncer.kube.client import KubeError

log = structlog.get_logger(__name__)
COPIED_SPEC = ("accessModes", "resources", "volumeMode")
# Set by kube-scheduler on a claim of a WaitForFirstConsumer class; fusionvc binds edge pods
# itself, so it sets it, or such a claim would never be provisioned.
SELECTED_NODE = "volume.kubernetes.io/selected-node"
STATUS_FIELDS = ("phase", "accessModes", "capacity", "conditions")


def claim_names(pod: Obj) -> list[str]:
    """The claims a pod uses: named ones, and those of its ephemeral volumes (which the
    tenant's ephemeral-volume controller names ``<pod>-<volume>``)."""
    names = set()
    for volume in (pod.get("spec") or {}).get("volumes") or []:
        if (volume.get("persistentVolumeClaim") or {}).get("claimName"):
            names.add(volume["persistentVolumeClaim"]["claimName"])
        elif "ephemeral" in volume:
            names.add(f"{pod['metadata']['name']}-{volume['name']}")
    return sorted(names)


def ephemeral_as_claims(spec: Obj, pod_name: str) -> None:
    """Edge pod volumes (a copy, already): an ephemeral volume reads the copy of the claim
    the tenant made for it, not one the edge would make from the template (its storage
    class unmapped, its status never mirrored)."""
    if any("ephemeral" in v for v in spec.get("volumes") or []):
        spec["volumes"] = [{"name": v["name"], "persistentVolumeClaim": {
            "claimName": f"{pod_name}-{v['name']}"}} if "ephemeral" in v else v
            for v in spec["volumes"]]


def claims_index(pod: Obj) -> list[str]:
    """Index of pods by the claims they use, as "<namespace>/<claim>"."""
    return [f"{pod['metadata']['namespace']}/{n}" for n in claim_names(pod)]


def edge_storage_class(mapping: dict[str, str] | None, claim: Obj) -> tuple[bool, str | None]:
    """(offered, the edge class) of a tenant claim on a cluster with that class mapping."""
    name = (claim.get("spec") or {}).get("storageClassName")
    if not name:
        return True, None
    if mapping is None or name not in mapping:
        return False, None
    return True, mapping[name]


def translate_pvc_down(claim: Obj, *, tenant: str, edge_namespace: str,
                       storage_class: str | None) -> Obj:
    meta = claim["metadata"]
    spec = {f: claim["spec"][f] for f in COPIED_SPEC if f in claim.get("spec", {})}
    if storage_class:
        spec["storageClassName"] = storage_class
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items()
                   if not k.startswith(("kubectl.kubernetes.io/", "fusionvc.io/",
                                        "volume.", "pv.kubernetes.io/"))}
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": meta["name"], "namespace": edge_namespace,
                         "labels": {**(meta.get("labels") or {}),
                                    **markers.marker_labels(tenant)},
                         "annotations": {**annotations, **markers.marker_annotations(claim)}},
            "spec": spec}


def status_up(edge_claim: Obj, tenant_claim: Obj) -> Obj | None:
    """The tenant claim's status fields that differ from its edge copy's (None: in line)."""
    have, want = tenant_claim.get("status") or {}, edge_claim.get("status") or {}
    patch = {f: want.get(f) for f in STATUS_FIELDS if have.get(f) != want.get(f)}
    return patch or None


class PersistentVolumeClaimSyncer(ResourceSyncer):
    kind = "PersistentVolumeClaim"
    copied = PVCS
    tenant_watches = (WatchSpec(PVCS), WatchSpec(PODS, indexers=(("claims", claims_index),)))
    edge_watches = (WatchSpec(PVCS, markers.MANAGED_SELECTOR,
                              (("tenant-key", markers.tenant_key_index),)),
                    WatchSpec(PODS, indexers=(("claims", claims_index),)))

    def __init__(self, ctx: SyncContext) -> None:
        super().__init__(ctx)
        ctx.pod_dependents.append(self)
        ctx.placement_constraints.append(self)

    def tenant_event(self, tenant: TenantConn, watch: str, old: Obj | None,
                     new: Obj | None) -> Iterable[WorkKey]:
        obj = new or old
        assert obj is not None
        if watch == PODS.plural:
            return  # pods are indexed by their claims, nothing more
        ns, name = obj["metadata"]["namespace"], obj["metadata"]["name"]
        if old is None:  # pods waiting for this claim get another try, as kube-scheduler's do
            for pod in tenant.store(PODS).by_index("claims", f"{ns}/{name}"):
                if not pod["spec"].get("nodeName"):
                    yield WorkKey(tenant.name, "Pod", ns, pod["metadata"]["name"])
        if old is not None and new is not None and old.get("spec") == new.get("spec") and all(
                old["metadata"].get(f) == new["metadata"].get(f)
                for f in ("labels", "annotations", "deletionTimestamp", "uid")):
            return  # a status fusionvc wrote
        yield WorkKey(tenant.name, self.kind, ns, name)

    def edge_event(self, edge: EdgeConn, watch: str, old: Obj | None,
                   new: Obj | None) -> Iterable[WorkKey]:
        if watch != PODS.plural:
            yield from super().edge_event(edge, watch, old, new)
        elif new is not None and new["spec"].get("nodeName") and (
                old is None or old["spec"].get("nodeName") != new["spec"]["nodeName"]):
            tenant, ref = markers.tenant_of(new), markers.tenant_ref(new)
            if tenant and ref:  # its claims get their node (selected-node)
                for name in claim_names(new):
                    yield WorkKey(tenant, self.kind, ref[0], name)

    def keys_for_pod(self, tenant: str, pod: Obj) -> Iterable[WorkKey]:
        return (WorkKey(tenant, self.kind, pod["metadata"]["namespace"], n)
                for n in claim_names(pod))

    def scan(self, tenant: TenantConn) -> Iterable[WorkKey]:
        return self.copied_keys(tenant)

    # ---- placement ---------------------------------------------------------------------

    def _holder(self, tenant: TenantConn, claim: Obj) -> str | None:
        """The edge cluster that holds the claim's copy (its data), if any."""
        ens = edge_namespace(tenant.name, tenant.uid, claim["metadata"]["namespace"])
        for edge in self.ctx.edges.values():
            have = edge.get(PVCS, ens, claim["metadata"]["name"]) if edge.informers else None
            if have is not None and markers.is_managed(have, tenant.name):
                return edge.name
        return (claim["metadata"].get("annotations") or {}).get(markers.EDGE_CLUSTER)

    def _claim_clusters(self, tenant: TenantConn, ns: str,
                        name: str) -> tuple[frozenset[str], str]:
        claim = tenant.get(PVCS, ns, name)
        if claim is None:
            return frozenset(), f'persistentvolumeclaim "{name}" not found'
        if claim["metadata"].get("deletionTimestamp"):
            return frozenset(), f'persistentvolumeclaim "{name}" is being deleted'
        holder = self._holder(tenant, claim)
        if holder:
            return frozenset({holder} & set(self.ctx.edges)), (
                f'persistentvolumeclaim "{name}" has its volume in another edge cluster')
        offered = frozenset(e.name for e in self.ctx.edges.values()
                            if edge_storage_class(dict(e.spec.storage_classes), claim)[0])
        wanted = claim["spec"].get("storageClassName")
        return offered, f'persistentvolumeclaim "{name}": storage class "{wanted}" is ' \
            "offered by no edge cluster the tenant may use"

    def constraint(self, tenant: TenantConn, pod: Obj) -> ClusterConstraint | None:
        names = claim_names(pod)
        if not names:
            return None
        allowed: frozenset[str] | None = None
        reason = ""
        for name in names:
            clusters, why = self._claim_clusters(tenant, pod["metadata"]["namespace"], name)
            allowed = clusters if allowed is None else allowed & clusters
            reason = reason or (why if not allowed else "")
        assert allowed is not None
        return ClusterConstraint(allowed, reason or "the pod's claims are in different "
                                 "edge clusters")

    # ---- writes ------------------------------------------------------------------------

    async def ensure_for_pod(self, tenant: TenantConn, edge: EdgeConn, pod: Obj) -> None:
        for name in claim_names(pod):
            claim = tenant.get(PVCS, pod["metadata"]["namespace"], name)
            if claim is None:
                raise LookupError(f"persistentvolumeclaim {name} not found")
            await self._ensure_copy(tenant, edge, claim)

    async def _ensure_copy(self, tenant: TenantConn, edge: EdgeConn, claim: Obj) -> None:
        meta = claim["metadata"]
        ens = await self.ctx.namespaces.ensure(tenant, edge, meta["namespace"])
        offered, storage_class = edge_storage_class(dict(edge.spec.storage_classes), claim)
        if not offered:
            raise LookupError(f"{edge.name} offers no storage class for claim {meta['name']}")
        want = translate_pvc_down(claim, tenant=tenant.name, edge_namespace=ens,
                                  storage_class=storage_class)
        if (meta.get("annotations") or {}).get(markers.EDGE_CLUSTER) != edge.name:
            await tenant.client.patch(PVCS, meta["name"], {"metadata": {"annotations": {
                markers.EDGE_CLUSTER: edge.name}}}, namespace=meta["namespace"])
        try:
            await self.adopt_or_create(tenant, edge, PVCS, want, edge.get(PVCS, ens, meta["name"]))
        except KubeError as err:
            if 400 <= err.status < 500 and not err.conflict:
                await self.ctx.recorder.warn(
                    tenant.client, {"kind": self.kind, **claim}, "EdgeRefused",
                    f"the edge cluster refused this claim ({err.reason or err.status}): "
                    f"{err.message.replace(ens, meta['namespace'])}")
            raise

    async def reconcile(self, key: WorkKey) -> float | None:
        tenant = self.ctx.tenants.get(key.tenant)
        if tenant is None:
            return None
        claim = tenant.get(PVCS, key.namespace, key.name)
        ens = edge_namespace(tenant.name, tenant.uid, key.namespace)
        for edge in self.ctx.edges.values():
            have = edge.get(PVCS, ens, key.name) if edge.synced else None
            if have is None or not markers.is_managed(have, tenant.name):
                continue
            ref = markers.tenant_ref(have)
            if ref is not None and ref[1] != key.name:
                continue  # not a copy of a tenant claim (an EdgeDataset's: dataset_claims)
            gone = claim is None or bool(claim["metadata"].get("deletionTimestamp")) or (
                ref is not None and ref[2] != claim["metadata"].get("uid"))
            if gone:
                if not have["metadata"].get("deletionTimestamp"):
                    log.info("removing claim copy", tenant=tenant.name, edge=edge.name,
                             name=f"{ens}/{key.name}")
                    await edge.client.delete(PVCS, key.name, ens, uid=have["metadata"]["uid"])
                continue
            assert claim is not None
            await self._select_node(edge, have)
            patch = status_up(have, claim)
            if patch:
                await tenant.client.patch(PVCS, key.name, {"status": patch},
                                          namespace=key.namespace, subresource="status")
        return None

    async def _select_node(self, edge: EdgeConn, have: Obj) -> None:
        """A Pending copy gets the node of the first edge pod using it, as kube-scheduler
        would give it (a WaitForFirstConsumer class provisions only then)."""
        meta = have["metadata"]
        if (have.get("status") or {}).get("phase", "Pending") != "Pending" or \
                SELECTED_NODE in (meta.get("annotations") or {}):
            return
        pods = edge.store(PODS).by_index("claims", f"{meta['namespace']}/{meta['name']}")
        nodes = sorted(p["spec"]["nodeName"] for p in pods if p["spec"].get("nodeName")
                       and not p["metadata"].get("deletionTimestamp"))
        if nodes:
            await edge.client.patch(PVCS, meta["name"], {"metadata": {"annotations": {
                SELECTED_NODE: nodes[0]}}}, namespace=meta["namespace"])
