"""Pure parts of ServiceDomain export: claims, sites, status and the published record.

- ``claim``: a hostname must lie in one of the tenant's zones (Tenant.spec.dns.zones);
  of several ServiceDomains naming one hostname, the oldest valid claim owns it. A
  refusal names the owner's zone rule, never the other tenant.
- ``site_load``: a site's load, the fraction of the requested resource (``cpu`` or
  ``memory``) its ready pods use, from the edges' metrics-server (syncer.metricsapi);
  unknown (None) without measurements or requests.
- ``sites``: one per healthy edge cluster with ready pods selected by the Service,
  weight = ready replicas. Load feeds the answers through the water level
  (syncer.gslb.waterlevel): a site above ``high`` is drained until it is below ``low``;
  headroom is thus all or nothing, which keeps the split exact among live sites.
- ``record``: what the GSLB DNS server reads (syncer.gslb.model).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from scheduler.quantity import parse_quantity
from syncer.gslb.model import zone_containing
from syncer.gslb.waterlevel import WaterLevel, next_drained
from syncer.kube import Obj

if TYPE_CHECKING:
    from syncer.metricsapi.translate import PodUsage

HEADROOM = 1  # load acts by draining (water level), not by scaling weights
LOAD_METRICS = ("cpu", "memory")


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


def load_metric(spec: Obj) -> str:
    metric = str((spec.get("waterLevel") or {}).get("metric") or "cpu")
    return metric if metric in LOAD_METRICS else "cpu"


def _requested(pod: Obj, metric: str) -> float:
    total = 0.0
    for container in (pod.get("spec") or {}).get("containers") or []:
        raw = ((container.get("resources") or {}).get("requests") or {}).get(metric)
        if raw is not None:
            try:
                total += float(parse_quantity(str(raw)))
            except ValueError:
                continue
    return total


def site_load(samples: Iterable[tuple[Obj, PodUsage | None]], metric: str) -> float | None:
    """Used / requested ``metric`` over the pods that request it and were measured.

    CPU is compared in cores, memory in bytes. Pods without a request or a measurement
    are left out; None when none is left (the site is then never drained)."""
    used = requested = 0.0
    for pod, usage in samples:
        want = _requested(pod, metric)
        if usage is None or want <= 0:
            continue
        used += usage.cpu_nano / 1e9 if metric == "cpu" else float(usage.memory_bytes)
        requested += want
    if requested <= 0:
        return None
    return round(used / requested, 3)


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
        if edge.load is not None:  # absent while not measured
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
