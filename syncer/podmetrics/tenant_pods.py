"""Where a tenant's pod runs on an edge: the key both the usage and the series sources use.

The edge cluster comes from the pod's placement annotation (fusionvc writes it), the
edge namespace from the naming contract (tenant name and UID), the pod name is kept.
Looking up by this key from the tenant's own pods is what keeps another tenant's pods
out of every answer.
"""

from __future__ import annotations

from syncer.core import markers
from syncer.core.names import edge_namespace
from syncer.fleet.conn import TenantConn
from syncer.kube import Obj

PodKey = tuple[str, str, str]  # (edge cluster, edge namespace, pod name)


def edge_pod_key(tenant: TenantConn, pod: Obj, namespaces: dict[str, str]) -> PodKey | None:
    """The edge copy of a bound tenant pod; ``namespaces`` caches tenant -> edge namespace."""
    meta = pod["metadata"]
    edge = (meta.get("annotations") or {}).get(markers.EDGE_CLUSTER)
    if not edge or not (pod.get("spec") or {}).get("nodeName"):
        return None
    ns = meta.get("namespace", "")
    if ns not in namespaces:
        namespaces[ns] = edge_namespace(tenant.name, tenant.uid, ns)
    return edge, namespaces[ns], meta["name"]
