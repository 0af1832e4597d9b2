"""Who is calling, and may it reach this pod: the checks before any edge call.

Client identity: the tenant kube-apiserver's kubelet client certificate,
verified against the kubelet client CA, whose subject common name is
``fusionvc:tenant:<Tenant name>`` (the only form accepted). The tenant is never
taken from the request path, a header or an object the tenant wrote.

A call reaches an edge pod only when, all from fusionvc's caches:

1. the certificate's tenant is one fusionvc serves (else 403);
2. the pod exists in that tenant, with the UID the path names, if any (else 404;
   a pod that only another tenant has is 403);
3. the pod is bound to one of the tenant's virtual nodes (else 404);
4. the container exists in it (containers, init or ephemeral; else 404);
5. its edge copy exists in *this tenant's* edge namespace on that node's edge
   cluster and is the copy of this very pod (tenant UID marker; else 404).

Rule 5 holds isolation by construction: the edge namespace derives from the
certificate's tenant, so no annotation a tenant edits can point elsewhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from syncer.core import markers
from syncer.core.names import edge_namespace, virtual_node_name
from syncer.fleet.conn import EdgeConn, TenantConn
from syncer.kube import Obj
from syncer.kube.apis import NODES, PODS
from syncer.kubelet.paths import PORT_FORWARD, KubeletCall

CN_PREFIX = "fusionvc:tenant:"


class Refused(Exception):
    """A call answered by the endpoint itself, with a kubelet-like status and text."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


@dataclass(frozen=True)
class Target:
    tenant: TenantConn
    edge: EdgeConn
    edge_namespace: str


def tenant_of_peercert(peercert: Mapping[str, Any] | None) -> str:
    """The tenant a verified client certificate names (``ssl.getpeercert()`` form)."""
    if not peercert:
        raise Refused(401, "Unauthorized: a client certificate is required")
    names = [value for rdn in peercert.get("subject", ()) for key, value in rdn
             if key == "commonName"]
    if len(names) != 1 or not names[0].startswith(CN_PREFIX) or names[0] == CN_PREFIX:
        raise Refused(403, "Forbidden: the client certificate names no tenant")
    return str(names[0][len(CN_PREFIX):])


def _containers(pod: Obj) -> set[str]:
    spec = pod.get("spec") or {}
    return {c.get("name", "") for field in ("containers", "initContainers",
                                           "ephemeralContainers")
            for c in spec.get(field) or []}


def _other_tenant_has(tenants: Mapping[str, TenantConn], me: str, call: KubeletCall) -> bool:
    for name, tenant in tenants.items():
        if name == me or not tenant.informers:
            continue
        pod = tenant.get(PODS, call.namespace, call.pod)
        if pod is not None and (not call.uid or pod["metadata"].get("uid") == call.uid):
            return True
    return False


def _tenant_pod(tenants: Mapping[str, TenantConn], tenant_name: str,
                call: KubeletCall) -> tuple[TenantConn, Obj]:
    tenant = tenants.get(tenant_name)
    if tenant is None or not tenant.informers:
        raise Refused(403, f"Forbidden: fusionvc serves no tenant {tenant_name!r}")
    pod = tenant.get(PODS, call.namespace, call.pod)
    if pod is None or (call.uid and pod["metadata"].get("uid") != call.uid):
        if _other_tenant_has(tenants, tenant_name, call):
            raise Refused(403, f"Forbidden: pod {call.namespace}/{call.pod} is not a pod of "
                               f"tenant {tenant_name}")
        raise Refused(404, f"pod does not exist: {call.namespace}/{call.pod}")
    if call.operation != PORT_FORWARD and call.container not in _containers(pod):
        raise Refused(404, f"container not found ({call.container!r}) in pod "
                           f"{call.namespace}/{call.pod}")
    return tenant, pod


def resolve(tenants: Mapping[str, TenantConn], edges: Mapping[str, EdgeConn],
            tenant_name: str, call: KubeletCall) -> Target:
    """The edge and edge namespace that serve this call, or Refused."""
    tenant, pod = _tenant_pod(tenants, tenant_name, call)
    node_name = (pod.get("spec") or {}).get("nodeName") or ""
    vnode = tenant.get(NODES, "", node_name) if node_name else None
    ann = (vnode or {}).get("metadata", {}).get("annotations") or {}
    edge = edges.get(ann.get(markers.EDGE_CLUSTER, ""))
    if (vnode is None or not markers.is_managed(vnode) or edge is None or not edge.informers
            or virtual_node_name(edge.name, ann.get(markers.EDGE_NODE, "")) != node_name):
        raise Refused(404, f"pod {call.namespace}/{call.pod} is not running on a virtual node")
    ens = edge_namespace(tenant.name, tenant.uid, call.namespace)
    copy = edge.get(PODS, ens, call.pod)
    ref = markers.tenant_ref(copy) if copy is not None else None
    if (copy is None or not markers.is_managed(copy, tenant.name) or ref is None
            or ref[2] != pod["metadata"].get("uid")):
        raise Refused(404, f"pod {call.namespace}/{call.pod} has no running copy yet")
    return Target(tenant, edge, ens)
