"""RuntimeClasses: a tenant's RuntimeClass reaches an edge cluster only if the operator
allows its handler there, under a tenant-scoped name.

RuntimeClasses are cluster-scoped, so each tenant's copy is named
``names.edge_runtime_class`` and edge pods name that copy. The copy follows a pod
to its edge cluster (as ConfigMaps do) and is removed with the tenant's
RuntimeClass. Placement: a pod naming a RuntimeClass may only run on clusters whose
``EdgeCluster.spec.runtimeHandlers`` list its handler; a handler offered nowhere is
an Unschedulable reason. Overhead, and the RuntimeClass's node selector and
tolerations, are merged into the pod by the tenant's own RuntimeClass admission,
so the fusion scheduler counts them like any pod field.
"""

from __future__ import annotations

from collections.abc import Iterable

from syncer.core import markers
from syncer.core.context import ClusterConstraint, SyncContext
from syncer.core.keys import WorkKey
from syncer.core.names import edge_runtime_class
from syncer.core.syncer import ResourceSyncer
from syncer.fleet.conn import EdgeConn, TenantConn, WatchSpec
from syncer.kube import Obj
from syncer.kube.apis import PODS, RUNTIMECLASSES

COPIED_FIELDS = ("handler", "overhead", "scheduling")


def runtime_class_index(pod: Obj) -> list[str]:
    name = (pod.get("spec") or {}).get("runtimeClassName")
    return [name] if name else []


def translate_runtime_class_down(obj: Obj, *, tenant: str, tenant_uid: str) -> Obj:
    """The edge copy: tenant-scoped name, fusionvc's markers, the same handler (pure)."""
    meta = obj["metadata"]
    out: Obj = {"apiVersion": "node.k8s.io/v1", "kind": "RuntimeClass",
                "metadata": {"name": edge_runtime_class(tenant, tenant_uid, meta["name"]),
                             "labels": markers.marker_labels(tenant),
                             "annotations": markers.marker_annotations(obj)}}
    out.update({f: obj[f] for f in COPIED_FIELDS if obj.get(f) is not None})
    return out


class RuntimeClassSyncer(ResourceSyncer):
    kind = "RuntimeClass"
    cluster_scoped_copies = (RUNTIMECLASSES,)
    tenant_watches = (WatchSpec(RUNTIMECLASSES),
                      WatchSpec(PODS, indexers=(("runtimeclass", runtime_class_index),)))
    edge_watches = (WatchSpec(RUNTIMECLASSES, markers.MANAGED_SELECTOR,
                              (("tenant-key", markers.tenant_key_index),)),)

    def __init__(self, ctx: SyncContext) -> None:
        super().__init__(ctx)
        ctx.pod_dependents.append(self)
        ctx.placement_constraints.append(self)

    # ---- events -> keys ----------------------------------------------------------------

    def keys_for_pod(self, tenant: str, pod: Obj) -> Iterable[WorkKey]:
        for name in runtime_class_index(pod):
            yield WorkKey(tenant, self.kind, "", name)

    def tenant_event(self, tenant: TenantConn, watch: str, old: Obj | None,
                     new: Obj | None) -> Iterable[WorkKey]:
        if watch == PODS.plural:
            return ()  # pods only index RuntimeClasses; copies follow pods via ensure_for_pod
        obj = new or old
        assert obj is not None
        return (WorkKey(tenant.name, self.kind, "", obj["metadata"]["name"]),)

    def edge_event(self, edge: EdgeConn, watch: str, old: Obj | None,
                   new: Obj | None) -> Iterable[WorkKey]:
        obj = new or old
        assert obj is not None
        tenant, ref = markers.tenant_of(obj), markers.tenant_ref(obj)
        return (WorkKey(tenant, self.kind, "", ref[1]),) if tenant and ref else ()

    def scan(self, tenant: TenantConn) -> Iterable[WorkKey]:
        names = {o["metadata"]["name"] for o in tenant.store(RUNTIMECLASSES)}
        for edge in self.ctx.edges.values():
            for value in edge.store(RUNTIMECLASSES).index_values("tenant-key"):
                owner, _, name = value.split("/", 2)
                if owner == tenant.name:
                    names.add(name)
        return [WorkKey(tenant.name, self.kind, "", n) for n in names]

    # ---- placement ---------------------------------------------------------------------

    def constraint(self, tenant: TenantConn, pod: Obj) -> ClusterConstraint | None:
        name = (pod.get("spec") or {}).get("runtimeClassName")
        if not name:
            return None
        rc = tenant.get(RUNTIMECLASSES, "", name)
        if rc is None:
            return ClusterConstraint(frozenset(), f'RuntimeClass "{name}" not found')
        handler = rc.get("handler", "")
        clusters = frozenset(e.name for e in self.ctx.edges.values()
                             if handler in e.spec.runtime_handlers)
        return ClusterConstraint(clusters, f'RuntimeClass "{name}" (handler {handler}) is '
                                 "offered by no edge cluster the tenant may use")

    # ---- writes ------------------------------------------------------------------------

    async def ensure_for_pod(self, tenant: TenantConn, edge: EdgeConn, pod: Obj) -> None:
        for name in runtime_class_index(pod):
            rc = tenant.get(RUNTIMECLASSES, "", name)
            if rc is not None and rc.get("handler") in edge.spec.runtime_handlers:
                await self._upsert(tenant, edge, rc)

    async def _upsert(self, tenant: TenantConn, edge: EdgeConn, rc: Obj) -> None:
        want = translate_runtime_class_down(rc, tenant=tenant.name, tenant_uid=tenant.uid)
        have = edge.get(RUNTIMECLASSES, "", want["metadata"]["name"])
        have = await self.adopt_or_create(tenant, edge, RUNTIMECLASSES, want, have)
        if have is None or all(have.get(f) == want.get(f) for f in COPIED_FIELDS):
            return
        if have.get("handler") != want.get("handler"):  # immutable: a new copy
            await edge.client.delete(RUNTIMECLASSES, have["metadata"]["name"],
                                     uid=have["metadata"]["uid"])
            await edge.client.create(RUNTIMECLASSES, want)
            return
        want["metadata"]["resourceVersion"] = have["metadata"]["resourceVersion"]
        await edge.client.replace(RUNTIMECLASSES, want)

    async def reconcile(self, key: WorkKey) -> float | None:
        tenant = self.ctx.tenants.get(key.tenant)
        if tenant is None:
            return None
        rc = tenant.get(RUNTIMECLASSES, "", key.name)
        name = edge_runtime_class(tenant.name, tenant.uid, key.name)
        for edge in self.ctx.edges.values():
            have = edge.get(RUNTIMECLASSES, "", name) if edge.synced else None
            if have is None or not markers.is_managed(have, tenant.name):
                continue
            if rc is None or rc.get("handler") not in edge.spec.runtime_handlers:
                await edge.client.delete(RUNTIMECLASSES, name, uid=have["metadata"]["uid"])
            else:
                await self._upsert(tenant, edge, rc)
        return None
