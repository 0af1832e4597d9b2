"""The labels and annotations that mark what fusionvc wrote, and the checks on them.

fusionvc changes or deletes an edge object only when these markers say it is
fusionvc's and the tenant's; everything else in an edge cluster is foreign.
"""

from __future__ import annotations

from syncer.kube import Obj

MANAGED_BY = "fusionvc.io/managed-by"
MANAGED_BY_VALUE = "fusionvc"
TENANT = "fusionvc.io/tenant"
TENANT_NAMESPACE = "fusionvc.io/tenant-namespace"
TENANT_NAME = "fusionvc.io/tenant-name"
TENANT_UID = "fusionvc.io/tenant-uid"
OWNER_UID = "fusionvc.io/owner-uid"
EDGE_CLUSTER = "fusionvc.io/edge-cluster"
EDGE_NODE = "fusionvc.io/edge-node"
VIRTUAL_NODE = "fusionvc.io/virtual-node"
# On an edge pod: the tenant pod's metadata.generation its spec was last written from.
TENANT_GENERATION = "fusionvc.io/tenant-generation"

# An edge pod's tenant-side required pod anti-affinity (JSON), which its spec drops: the
# fusion scheduler keeps other pods out of its domains after a restart too.
POD_ANTI_AFFINITY = "fusionvc.io/pod-anti-affinity"
# An edge pod's tenant-side inter-pod terms that weigh in other pods' scores (JSON, shaped as
# spec.affinity: podAffinity required and preferred, podAntiAffinity preferred).
POD_AFFINITY_SCORING = "fusionvc.io/pod-affinity-scoring"
MANAGED_SELECTOR = f"{MANAGED_BY}={MANAGED_BY_VALUE}"


def marker_labels(tenant: str) -> dict[str, str]:
    return {MANAGED_BY: MANAGED_BY_VALUE, TENANT: tenant}


def marker_annotations(tenant_obj: Obj) -> dict[str, str]:
    meta = tenant_obj["metadata"]
    return {TENANT_NAMESPACE: meta.get("namespace", ""), TENANT_NAME: meta["name"],
            TENANT_UID: meta.get("uid", "")}


def is_managed(obj: Obj, tenant: str | None = None) -> bool:
    labels = obj.get("metadata", {}).get("labels") or {}
    if labels.get(MANAGED_BY) != MANAGED_BY_VALUE:
        return False
    return tenant is None or labels.get(TENANT) == tenant


def tenant_of(obj: Obj) -> str | None:
    labels = obj.get("metadata", {}).get("labels") or {}
    if labels.get(MANAGED_BY) != MANAGED_BY_VALUE:
        return None
    tenant = labels.get(TENANT)
    return tenant if isinstance(tenant, str) else None


def tenant_ref(obj: Obj) -> tuple[str, str, str] | None:
    """(tenant namespace, tenant name, tenant uid) from an edge object's annotations."""
    ann = obj.get("metadata", {}).get("annotations") or {}
    if TENANT_NAME not in ann:
        return None
    return ann.get(TENANT_NAMESPACE, ""), ann[TENANT_NAME], ann.get(TENANT_UID, "")


def tenant_key_index(obj: Obj) -> list[str]:
    """Index of edge copies by "<tenant>/<tenant namespace>/<tenant name>"."""
    tenant, ref = tenant_of(obj), tenant_ref(obj)
    return [f"{tenant}/{ref[0]}/{ref[1]}"] if tenant and ref else []
