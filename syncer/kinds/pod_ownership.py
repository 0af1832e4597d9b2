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
from syncer.core.names import edge_namespace
from syncer.core.ownership import is_tampered_copy
from syncer.fleet.conn import EdgeConn, TenantConn
from syncer.kube import Obj
from syncer.kube.apis import PODS
from syncer.kube.client import KubeError


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


async def ours_exists(edge: EdgeConn, tenant: TenantConn, tpod: Obj, ns: str) -> bool:
    """After 409 on create: is the pod there this tenant pod's own copy (an earlier try)?
    An older copy of a pod of the same name is retried once it has been removed."""
    existing = await edge.client.get(PODS, tpod["metadata"]["name"], ns)
    if not markers.is_managed(existing, tenant.name):
        return False
    ref = markers.tenant_ref(existing)
    if ref is None or ref[2] != tpod["metadata"]["uid"]:
        raise KubeError(409, "Conflict", "an older copy of this pod is still being removed")
    return True


async def edge_pod_gone(edge: EdgeConn | None, tenant: TenantConn, tpod: Obj) -> bool:
    """Asks the edge API server itself: a cache that lags must not fail a live pod."""
    if edge is None:
        return True  # its edge cluster was removed
    meta = tpod["metadata"]
    ens = edge_namespace(tenant.name, tenant.uid, meta["namespace"])
    try:
        epod = await edge.client.get(PODS, meta["name"], ens)
    except KubeError as err:
        if err.not_found:
            return True
        raise
    ref = markers.tenant_ref(epod)
    return ref is None or ref[2] != meta["uid"]
