"""fusionvc's own objects on an edge, known by where they live, not only by their labels.

An edge namespace fusionvc made for a tenant (its owner marker names the tenant
namespace whose edge name it has) holds only fusionvc's copies, so an object
there is fusionvc's when it still carries fusionvc's tenant-name annotation for
its own name, even if someone removed its managed-by label or changed its other
markers: it is adopted and its markers are written back. An object there without
that annotation stays foreign (never overwritten nor deleted).
"""

from __future__ import annotations

from syncer.core import markers
from syncer.core.names import edge_namespace
from syncer.fleet.conn import EdgeConn, TenantConn
from syncer.kube import Obj
from syncer.kube.apis import NAMESPACES


def in_own_namespace(edge: EdgeConn, tenant: TenantConn, obj: Obj) -> bool:
    """obj lives in an edge namespace fusionvc made for this tenant."""
    name = obj["metadata"].get("namespace", "")
    ns = edge.get(NAMESPACES, "", name) if NAMESPACES.plural in edge.informers else None
    if ns is None or not markers.is_managed(ns, tenant.name):
        return False
    ref = markers.tenant_ref(ns)
    return ref is not None and edge_namespace(tenant.name, tenant.uid, ref[1]) == name


def is_tampered_copy(edge: EdgeConn, tenant: TenantConn, obj: Obj) -> bool:
    """fusionvc's copy whose labels were changed: in the tenant's edge namespace, and still
    annotated with the tenant name it was copied from (its own name)."""
    ref = markers.tenant_ref(obj)
    return ref is not None and ref[1] == obj["metadata"]["name"] \
        and in_own_namespace(edge, tenant, obj)
