"""A toy synced kind, registered from outside syncer/ with ``--extra-kinds``.

It shows (and the integration test checks) that a new kind is one module: tenant
PodTemplates are copied to the tenant's edge namespace on every edge cluster,
follow the tenant's edits, and go when the tenant deletes them. Only PodTemplates
are used because nothing else in fusionvc or Kubernetes acts on them.
"""

from __future__ import annotations

from collections.abc import Iterable

from syncer.core import markers
from syncer.core.keys import WorkKey
from syncer.core.syncer import ResourceSyncer
from syncer.fleet.conn import EdgeConn, TenantConn, WatchSpec
from syncer.kube import Obj
from syncer.kube.apis import ResourceType

PODTEMPLATES = ResourceType("", "v1", "podtemplates", "PodTemplate")


def translate_podtemplate_down(obj: Obj, *, tenant: str, edge_namespace: str) -> Obj:
    """The edge copy: same name and template, fusionvc's markers (pure)."""
    meta = obj["metadata"]
    return {"apiVersion": "v1", "kind": "PodTemplate",
            "metadata": {"name": meta["name"], "namespace": edge_namespace,
                         "labels": {**(meta.get("labels") or {}),
                                    **markers.marker_labels(tenant)},
                         "annotations": markers.marker_annotations(obj)},
            "template": obj.get("template") or {}}


class PodTemplateSyncer(ResourceSyncer):
    kind = "PodTemplate"
    copied = PODTEMPLATES
    tenant_watches = (WatchSpec(PODTEMPLATES),)
    edge_watches = (WatchSpec(PODTEMPLATES, markers.MANAGED_SELECTOR,
                              (("tenant-key", markers.tenant_key_index),)),)

    def tenant_event(self, tenant: TenantConn, watch: str, old: Obj | None,
                     new: Obj | None) -> Iterable[WorkKey]:
        meta = (new or old or {})["metadata"]
        yield WorkKey(tenant.name, self.kind, meta["namespace"], meta["name"])

    def scan(self, tenant: TenantConn) -> Iterable[WorkKey]:
        return self.copied_keys(tenant)

    async def reconcile(self, key: WorkKey) -> float | None:
        tenant = self.ctx.tenants.get(key.tenant)
        if tenant is None:
            return None
        obj = tenant.get(PODTEMPLATES, key.namespace, key.name)
        wanted = set(self.ctx.edges) if obj and not obj["metadata"].get(
            "deletionTimestamp") else set()

        async def upsert(edge: EdgeConn, have: Obj | None) -> None:
            assert obj is not None
            ens = await self.ctx.namespaces.ensure(tenant, edge, key.namespace)
            want = translate_podtemplate_down(obj, tenant=tenant.name, edge_namespace=ens)
            have = await self.adopt_or_create(tenant, edge, PODTEMPLATES, want, have)
            if have is not None and have.get("template") != want["template"]:
                want["metadata"]["resourceVersion"] = have["metadata"]["resourceVersion"]
                await edge.client.replace(PODTEMPLATES, want)
        await self.converge_copies(tenant, PODTEMPLATES, key, wanted, upsert)
        return None
