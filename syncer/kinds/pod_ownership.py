"""Which edge pod is a tenant pod's own copy, when someone on the edge changed its markers.

fusionvc's copies live in edge namespaces fusionvc made for the tenant, so a pod
there that still carries its tenant-name annotation is fusionvc's even when its
``fusionvc.io/managed-by`` label was removed (core/ownership.py):
it is found, its markers are written back by the next update, and its status
keeps flowing up. A copy whose ``fusionvc.io/tenant-uid`` was changed is told
apart from an older pod's copy by the binding: a tenant pod is bound to a node
of one edge cluster only after its own copy was created there, so a bound
pod's same-named pod on that node is its copy (repaired, never deleted).
"""

from __future__ import annotations

from syncer.core import markers
from syncer.core.ownership import is_tampered_copy
from syncer.fleet.conn import EdgeConn, TenantConn
from syncer.kube import Obj


def copy_uid(edge_pod: Obj) -> str | None:
    """The UID of the tenant pod an edge pod is a copy of."""
    ref = markers.tenant_ref(edge_pod)
    return ref[2] if ref else None


def is_own_copy(edge: EdgeConn, tenant: TenantConn, obj: Obj) -> bool:
    """Marked as this tenant's, or its copy with labels tampered with (core/ownership.py)."""
    return markers.is_managed(obj, tenant.name) or is_tampered_copy(edge, tenant, obj)


def is_bound_copy(tpod: Obj, cluster: str, edge_pod: Obj) -> bool:
    """The tenant pod is bound to the node of this edge cluster the edge pod runs on: the edge
    pod is its copy, whatever its tenant-uid marker says."""
    annotations = tpod["metadata"].get("annotations") or {}
    return bool(tpod["spec"].get("nodeName")) \
        and annotations.get(markers.EDGE_CLUSTER) == cluster \
        and annotations.get(markers.EDGE_NODE) == (edge_pod.get("spec") or {}).get("nodeName")
