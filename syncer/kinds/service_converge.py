"""What an edge Service copy must change to match its tenant Service (pure).

Every field fusionvc copies converges on update: labels and annotations (the
markers included, so a removed marker is put back), and every spec field of the
translated copy (selector, ports, type, externalName, internalTrafficPolicy,
externalTrafficPolicy, sessionAffinity and its config, ...). Fields the edge
allocates itself (cluster IPs, node ports, health-check port) are never
compared. A switch to ExternalName clears the edge's cluster IPs, as the API
requires.
"""

from __future__ import annotations

from syncer.kinds.pod_translate import metadata_patch
from syncer.kube import Obj

# Allocated by the edge apiserver: never sent, never compared.
EDGE_OWNED_SPEC = frozenset({"clusterIP", "clusterIPs", "healthCheckNodePort", "loadBalancerIP",
                             "externalIPs"})


def _ports(ports: list[Obj] | None) -> list[Obj]:
    return [{k: v for k, v in p.items() if k != "nodePort"} for p in ports or []]


def spec_patch(have: Obj, want: Obj) -> Obj | None:
    """The spec fields of ``want`` the edge copy ``have`` lacks or holds differently (a merge
    patch: a field the tenant removed is null)."""
    h, w = have.get("spec") or {}, want.get("spec") or {}
    patch: Obj = {}
    for key in (set(h) | set(w)) - EDGE_OWNED_SPEC:
        if key == "ports":
            if _ports(h.get("ports")) != _ports(w.get("ports")):
                patch["ports"] = w.get("ports") or []
        elif key not in w:
            # The edge defaults some fields the tenant's copy never carried: only fields
            # fusionvc wrote before (the tenant removed them) are cleared.
            if key in REMOVABLE:
                patch[key] = None
        elif h.get(key) != w[key]:
            patch[key] = w[key]
    if w.get("type") == "ExternalName" and h.get("type") != "ExternalName":
        patch.update(clusterIP=None, clusterIPs=None)
    if w.get("clusterIP") == "None" and h.get("clusterIP") != "None":
        patch["clusterIP"] = "None"  # headless is a mode fusionvc copies, not an allocation
    return patch or None


# Spec fields a tenant may drop from its Service, which the copy must then lose too.
REMOVABLE = frozenset({"selector", "externalName", "sessionAffinityConfig",
                       "loadBalancerSourceRanges", "loadBalancerClass", "trafficDistribution",
                       "publishNotReadyAddresses"})


def service_patch(have: Obj, want: Obj) -> Obj | None:
    """Labels/annotations drift and spec changes, in one merge patch; None when converged."""
    meta, spec = metadata_patch(have, want), spec_patch(have, want)
    if meta is None and spec is None:
        return None
    return {**(meta or {}), **({"spec": spec} if spec else {})}


def serves_namespace(svc: Obj) -> bool:
    """An ExternalName Service has no selector: it is wanted wherever the namespace runs pods."""
    return (svc.get("spec") or {}).get("type") == "ExternalName"
