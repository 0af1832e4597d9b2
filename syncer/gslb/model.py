"""The compiled answer table (pure): what the DNS server answers, built from plain objects.

Inputs, all read from the management cluster:
- record ConfigMaps published by the syncer, one per accepted ServiceDomain (``RECORD_KEY``
  holds JSON: tenant, hostname, ttl, answers, toleranceMs, createdAt, sites with cluster,
  readyReplicas, weight, drained);
- EdgeClusters: latency table (``spec.latencyMs``), entrance addresses with their carrier
  (``spec.entrance``), and the Ready condition (an unreachable edge is left out);
- UserRegions: client networks -> (region, carrier);
- Tenants: the zones each may claim (``spec.dns.zones``); the union is what is hosted.
A record outside its tenant's zones is ignored, and of two records for one hostname the
older claim wins (the syncer refuses the other; this is the server's own guard).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from syncer.kube import Obj

RECORD_LABEL = "fusionvc.io/gslb-record"
RECORD_KEY = "record.json"


@dataclass(frozen=True)
class Entrance:
    address: str
    carrier: str
    family: int  # 4 or 6


@dataclass(frozen=True)
class Site:
    cluster: str
    weight: int
    drained: bool
    latency_ms: Mapping[str, float]
    entrances: tuple[Entrance, ...]


@dataclass(frozen=True)
class Host:
    hostname: str
    zone: str
    ttl: int
    answers: int
    tolerance_ms: float
    sites: tuple[Site, ...]


@dataclass(frozen=True)
class ClientInfo:
    region: str | None
    carrier: str | None


class NetworkMap:
    """Longest-prefix match of client addresses to (region, carrier)."""

    def __init__(self, networks: Iterable[tuple[str, str, str]]) -> None:
        self._by_len: dict[tuple[int, int], dict[int, ClientInfo]] = {}
        for cidr, region, carrier in networks:
            net = ipaddress.ip_network(cidr, strict=False)
            table = self._by_len.setdefault((net.version, net.prefixlen), {})
            table[int(net.network_address) >> (net.max_prefixlen - net.prefixlen)] = ClientInfo(
                region, carrier or None)
        self._order = sorted(self._by_len, key=lambda k: -k[1])

    def lookup(self, address: str) -> ClientInfo | None:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return None
        value, bits = int(ip), ip.max_prefixlen
        for version, plen in self._order:
            if version == ip.version:
                found = self._by_len[(version, plen)].get(value >> (bits - plen))
                if found is not None:
                    return found
        return None


@dataclass(frozen=True)
class Table:
    hosts: Mapping[str, Host] = field(default_factory=dict)
    zones: tuple[str, ...] = ()  # longest first
    networks: NetworkMap = field(default_factory=lambda: NetworkMap(()))
    serial: int = 1

    def zone_of(self, name: str) -> str | None:
        return zone_containing(name, self.zones)


def normalize(name: str) -> str:
    return name.strip().rstrip(".").lower()


def zone_containing(name: str, zones: Iterable[str]) -> str | None:
    """The longest zone the name is in (the zone itself or below it)."""
    best: str | None = None
    for zone in zones:
        if (name == zone or name.endswith("." + zone)) and (best is None or len(zone) > len(best)):
            best = zone
    return best


def tenant_zones(tenant: Obj) -> tuple[str, ...]:
    zones = ((tenant.get("spec") or {}).get("dns") or {}).get("zones") or []
    return tuple(normalize(z) for z in zones if isinstance(z, str) and z.strip(".").strip())


def _entrances(spec: Obj) -> tuple[Entrance, ...]:
    found = []
    for item in spec.get("entrance") or []:
        try:
            ip = ipaddress.ip_address(str(item.get("address", "")))
        except ValueError:
            continue
        found.append(Entrance(str(ip), str(item.get("carrier") or ""), ip.version))
    return tuple(found)


def _edge_usable(edge: Obj) -> bool:
    conds = (edge.get("status") or {}).get("conditions") or []
    return not any(c.get("type") == "Ready" and c.get("status") == "False" for c in conds)


def _site(raw: Obj, edges: Mapping[str, Obj]) -> Site | None:
    edge = edges.get(str(raw.get("cluster", "")))
    if edge is None or not _edge_usable(edge):
        return None
    spec = edge.get("spec") or {}
    latency = {str(k): float(v) for k, v in (spec.get("latencyMs") or {}).items()}
    weight = int(raw.get("weight", raw.get("readyReplicas", 0)) or 0)
    entrances = _entrances(spec)
    if weight <= 0 or not entrances:
        return None
    return Site(edge["metadata"]["name"], weight, bool(raw.get("drained")), latency, entrances)


def _host(record: Obj, zone: str, edges: Mapping[str, Obj]) -> Host:
    sites = (_site(s, edges) for s in record.get("sites") or [])
    return Host(hostname=normalize(record["hostname"]), zone=zone,
                ttl=max(1, int(record.get("ttl", 30))),
                answers=max(1, int(record.get("answers", 1))),
                tolerance_ms=float(record.get("toleranceMs", 0)),
                sites=tuple(sorted((s for s in sites if s is not None), key=lambda s: s.cluster)))


def compile_table(records: Iterable[Obj], edges: Iterable[Obj], user_regions: Iterable[Obj],
                  tenants: Iterable[Obj], serial: int = 1) -> Table:
    zones_of = {t["metadata"]["name"]: tenant_zones(t) for t in tenants}
    by_name = {e["metadata"]["name"]: e for e in edges}
    ordered = sorted((r for r in records if r.get("hostname")),
                     key=lambda r: (str(r.get("createdAt", "")), str(r.get("tenant", ""))))
    hosts: dict[str, Host] = {}
    for record in ordered:
        hostname = normalize(str(record["hostname"]))
        zone = zone_containing(hostname, zones_of.get(str(record.get("tenant")), ()))
        if zone is None or hostname in hosts:
            continue
        hosts[hostname] = _host(record, zone, by_name)
    networks = []
    for ur in user_regions:
        spec = ur.get("spec") or {}
        for cidr in spec.get("cidrs") or []:
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError:
                continue
            networks.append((cidr, str(spec.get("region", "")), str(spec.get("carrier") or "")))
    all_zones = {z for zs in zones_of.values() for z in zs}
    return Table(hosts, tuple(sorted(all_zones, key=lambda z: (-len(z), z))),
                 NetworkMap(networks), serial)
