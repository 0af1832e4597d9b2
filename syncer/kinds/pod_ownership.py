"""Which edge pod is a tenant pod's own copy, when someone on the edge changed its markers.

fusionvc's copies live in edge namespaces fusionvc made for the tenant, so a pod
there is fusionvc's even when its ``fusionvc.io/managed-by`` label was removed:
it is found, its markers are written back by the next update, and its status
keeps flowing up. A copy whose ``fusionvc.io/tenant-uid`` was changed is told
apart from an older pod's copy by the binding: a tenant pod is bound to a node
of one edge cluster only after its own copy was created there, so a bound
pod's same-named pod on that node is its copy (repaired, never deleted).
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


def is_own_copy(edge: EdgeConn, tenant: TenantConn, obj: Obj) -> bool:
    """Marked as this tenant's, or in one of its edge namespaces (markers tampered with)."""
    return markers.is_managed(obj, tenant.name) or in_own_namespace(edge, tenant, obj)


def is_bound_copy(tpod: Obj, cluster: str, edge_pod: Obj) -> bool:
    """The tenant pod is bound to the node of this edge cluster the edge pod runs on: the edge
    pod is its copy, whatever its tenant-uid marker says."""
    annotations = tpod["metadata"].get("annotations") or {}
    return bool(tpod["spec"].get("nodeName")) \
        and annotations.get(markers.EDGE_CLUSTER) == cluster \
        and annotations.get(markers.EDGE_NODE) == (edge_pod.get("spec") or {}).get("nodeName")
