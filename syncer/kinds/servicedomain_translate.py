"""Pure parts of ServiceDomain export: claims, sites, status and the published record.

- ``claim``: a hostname must lie in one of the tenant's zones (Tenant.spec.dns.zones);
  of several ServiceDomains naming one hostname, the oldest valid claim owns it. A
  refusal names the owner's zone rule, never the other tenant.
- ``sites``: one per healthy edge cluster with ready pods selected by the Service,
  weight = ready replicas x headroom. Headroom is 1 and load unknown until the metrics
  pipeline lands; the water-level hysteresis (syncer.gslb.waterlevel) is applied with
  that unknown load, so no site is drained yet.
- ``record``: what the GSLB DNS server reads (syncer.gslb.model).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from syncer.gslb.model import zone_containing
from syncer.gslb.waterlevel import WaterLevel, next_drained
from syncer.kube import Obj

HEADROOM = 1  # until the metrics pipeline reports load


@dataclass(frozen=True)
class Claimant:
    """One ServiceDomain naming a hostname, as the claim check sees it."""

    tenant: str
    namespace: str
    name: str
    created: str  # metadata.creationTimestamp (RFC 3339 sorts as text)
    zones: tuple[str, ...]


@dataclass(frozen=True)
class ClaimResult:
    accepted: bool
    reason: str
    message: str
    zone: str = ""


def claim(hostname: str, me: Claimant, others: Iterable[Claimant]) -> ClaimResult:
    zone = zone_containing(hostname, me.zones)
    if zone is None:
        granted = ", ".join(me.zones) or "none"
        return ClaimResult(False, "HostnameOutsideZones",
                           f"{hostname} is not in a zone granted to this tenant (granted: "
                           f"{granted}); an operator grants zones in Tenant.spec.dns.zones")
    valid = [c for c in [me, *others] if zone_containing(hostname, c.zones) is not None]
    owner = min(valid, key=lambda c: (c.created, c.tenant, c.namespace, c.name))
    if owner == me:
        return ClaimResult(True, "Claimed", f"{hostname} is exported in zone {zone}", zone)
    if owner.tenant == me.tenant:
        return ClaimResult(False, "HostnameClaimed",
                           f"{hostname} is already exported by ServiceDomain "
                           f"{owner.namespace}/{owner.name}")
    rule = zone_containing(hostname, owner.zones)
    return ClaimResult(False, "HostnameClaimed",
                       f"{hostname} is already claimed under zone rule {rule!r} held by "
                       "another tenant; ask an operator if it should be yours")


@dataclass(frozen=True)
class EdgeView:
    """What the syncer knows of one edge cluster for one Service."""

    cluster: str
    region: str
    healthy: bool
    entrance: tuple[tuple[str, str], ...]
    ready: int
    load: float | None = None


def water_level(spec: Obj) -> WaterLevel | None:
    raw = spec.get("waterLevel")
    if not raw:
        return None
    try:
        return WaterLevel(float(raw["high"]), float(raw["low"]))
    except (KeyError, TypeError, ValueError):
        return None


def sites(edges: Iterable[EdgeView], previous: Iterable[Obj], level: WaterLevel | None
          ) -> list[Obj]:
    """Status sites: reachable edges with ready replicas and an entrance, by cluster name."""
    was_drained = {s.get("cluster"): bool(s.get("drained")) for s in previous}
    result = []
    for edge in sorted(edges, key=lambda e: e.cluster):
        if not edge.healthy or edge.ready <= 0 or not edge.entrance:
            continue
        site: Obj = {
            "cluster": edge.cluster, "region": edge.region,
            "addresses": [address for address, _ in edge.entrance],
            "readyReplicas": edge.ready, "weight": edge.ready * HEADROOM,
            "drained": next_drained(was_drained.get(edge.cluster, False), edge.load, level),
        }
        if edge.load is not None:  # absent until the metrics pipeline reports it
            site["load"] = edge.load
        result.append(site)
    return result


def record(tenant: str, sd: Obj, zone: str, site_list: list[Obj],
           entrance: Mapping[str, tuple[tuple[str, str], ...]]) -> Obj:
    spec, meta = sd["spec"], sd["metadata"]
    return {
        "tenant": tenant, "namespace": meta["namespace"], "name": meta["name"],
        "hostname": spec["hostname"], "zone": zone, "createdAt": meta.get("creationTimestamp", ""),
        "ttl": int(spec.get("ttl", 30)), "answers": int(spec.get("answers", 1)),
        "toleranceMs": int(spec.get("latencyToleranceMs", 0)),
        "sites": [{"cluster": s["cluster"], "readyReplicas": s["readyReplicas"],
                   "weight": s["weight"], "drained": s["drained"],
                   "entrance": [{"address": a, "carrier": c} for a, c in entrance.get(
                       s["cluster"], ())]} for s in site_list],
    }


def pod_ready(pod: Obj) -> bool:
    if pod["metadata"].get("deletionTimestamp"):
        return False
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or [])
