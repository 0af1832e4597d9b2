"""Record tables: what each tenant's names resolve to in this edge cluster (pure).

Built from fusionvc's edge copies only: edge namespaces marked with the tenant
and the tenant namespace (syncer/markers.py), the Services fusionvc wrote into
them, the EndpointSlices the edge's controller-manager made for those
Services, and fusionvc's pods (whose IPs say which tenant a query comes from).
Names are the tenant's: ``<service>.<tenant namespace>.svc.<domain>``, never
the edge namespace. Anything not marked by fusionvc is ignored.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from syncer.core import markers
from syncer.edgedns.pod_ips import PodAddresses

Obj = dict[str, Any]
SERVICE_NAME_LABEL = "kubernetes.io/service-name"


@dataclass(frozen=True, slots=True)
class Srv:
    port: int
    target: str  # absolute name, with the trailing dot
    priority: int = 0
    weight: int = 100


@dataclass(slots=True)
class NameRecords:
    """The records of one owner name (lower case, absolute)."""

    a: list[str] = field(default_factory=list)
    aaaa: list[str] = field(default_factory=list)
    srv: list[Srv] = field(default_factory=list)
    cname: str | None = None

    def add_ip(self, ip: str) -> None:
        target = self.aaaa if ":" in ip else self.a
        if ip not in target:
            target.append(ip)


@dataclass
class TenantZone:
    """One tenant's names under the cluster domain, and reverse names of its addresses."""

    names: dict[str, NameRecords] = field(default_factory=dict)
    existing: set[str] = field(default_factory=set)  # names and their ancestors (no NXDOMAIN)
    ptr: dict[str, str] = field(default_factory=dict)  # ip -> absolute name

    def records(self, name: str) -> NameRecords:
        rec = self.names.get(name)
        if rec is None:
            rec = self.names[name] = NameRecords()
        return rec


@dataclass
class Tables:
    domain: str  # absolute, lower case: "cluster.local."
    tenants: dict[str, TenantZone] = field(default_factory=dict)
    pod_tenant: dict[str, str] = field(default_factory=dict)  # pod ip -> tenant
    known_ips: set[str] = field(default_factory=set)  # every service/endpoint ip of any tenant

    def zone(self, tenant: str) -> TenantZone:
        return self.tenants.get(tenant) or EMPTY_ZONE


EMPTY_ZONE = TenantZone()


def absolute_domain(domain: str) -> str:
    return domain.strip(".").lower() + "."


def edge_namespace_owners(namespaces: Iterable[Obj]) -> dict[str, tuple[str, str]]:
    """Edge namespace -> (tenant, tenant namespace), for fusionvc's namespaces only."""
    owners = {}
    for ns in namespaces:
        tenant, ref = markers.tenant_of(ns), markers.tenant_ref(ns)
        if tenant and ref and ref[1]:
            owners[ns["metadata"]["name"]] = (tenant, ref[1])
    return owners


def _ready_endpoints(slices: Iterable[Obj]) -> list[tuple[str | None, list[str]]]:
    """(hostname, addresses) of the ready endpoints of a Service's slices."""
    found = []
    for sl in slices:
        if sl.get("addressType") not in ("IPv4", "IPv6"):
            continue
        for ep in sl.get("endpoints") or []:
            if (ep.get("conditions") or {}).get("ready") is False:
                continue
            found.append((ep.get("hostname"), list(ep.get("addresses") or [])))
    return found


def _slice_ports(slices: Iterable[Obj]) -> list[tuple[str, str, int]]:
    """(name, protocol, port) of the named ports of a Service's slices."""
    ports = []
    for sl in slices:
        for p in sl.get("ports") or []:
            entry = (p.get("name") or "", p.get("protocol") or "TCP", p.get("port"))
            if entry[0] and isinstance(entry[2], int) and entry not in ports:
                ports.append(entry)
    return ports


def _service_ports(svc: Obj) -> list[tuple[str, str, int]]:
    return [(p["name"], p.get("protocol") or "TCP", p["port"])
            for p in svc["spec"].get("ports") or [] if p.get("name") and p.get("port")]


def _srv_name(port: tuple[str, str, int], owner: str) -> str:
    return f"_{port[0]}._{port[1]}.{owner}".lower()


def _endpoint_name(hostname: str | None, ip: str, owner: str) -> str:
    label = hostname or ip.replace(".", "-").replace(":", "-")
    return f"{label}.{owner}".lower()


def _add_cluster_ip(zone: TenantZone, svc: Obj, owner: str) -> list[str]:
    spec = svc["spec"]
    ips = [ip for ip in spec.get("clusterIPs") or [spec.get("clusterIP")] if ip and ip != "None"]
    rec = zone.records(owner)
    for ip in ips:
        rec.add_ip(ip)
        zone.ptr[ip] = owner
    for port in _service_ports(svc):
        zone.records(_srv_name(port, owner)).srv.append(Srv(port[2], owner))
    return ips


def _add_headless(zone: TenantZone, slices: list[Obj], owner: str) -> list[str]:
    rec, ips = zone.records(owner), []
    targets = []
    for hostname, addresses in _ready_endpoints(slices):
        for ip in addresses:
            rec.add_ip(ip)
            name = _endpoint_name(hostname, ip, owner)
            zone.records(name).add_ip(ip)
            zone.ptr.setdefault(ip, name)
            ips.append(ip)
            if name not in targets:
                targets.append(name)
    for port in _slice_ports(slices):
        srv = zone.records(_srv_name(port, owner)).srv
        srv.extend(Srv(port[2], t) for t in targets)
    return ips


def _add_service(zone: TenantZone, svc: Obj, slices: list[Obj], owner: str) -> list[str]:
    spec = svc["spec"]
    if spec.get("type") == "ExternalName":
        target = (spec.get("externalName") or "").strip(".").lower()
        if target:
            zone.records(owner).cname = target + "."
        return []
    if spec.get("clusterIP") == "None":
        return _add_headless(zone, slices, owner)
    return _add_cluster_ip(zone, svc, owner)


def _slices_by_service(slices: Iterable[Obj]) -> dict[tuple[str, str], list[Obj]]:
    grouped: dict[tuple[str, str], list[Obj]] = {}
    for sl in slices:
        svc = (sl["metadata"].get("labels") or {}).get(SERVICE_NAME_LABEL)
        if svc:
            grouped.setdefault((sl["metadata"]["namespace"], svc), []).append(sl)
    return grouped


def _mark_existing(zone: TenantZone, domain: str, namespaces: Iterable[str]) -> None:
    """Every name with records, every namespace of the tenant here, and every ancestor down
    to the domain exist (NODATA, not NXDOMAIN), as for empty non-terminals."""
    for name in [*zone.names, *(f"{ns}.svc.{domain}".lower() for ns in namespaces)]:
        while name.endswith(domain) and name not in zone.existing:
            zone.existing.add(name)
            name = name.partition(".")[2]
    zone.existing.add(domain)


def build_tables(domain: str, namespaces: Iterable[Obj], services: Iterable[Obj],
                 slices: Iterable[Obj], pods: Iterable[Obj]) -> Tables:
    """The tables for every tenant with something in this edge cluster."""
    tables = Tables(absolute_domain(domain))
    owners = edge_namespace_owners(namespaces)
    by_service = _slices_by_service(slices)
    for svc in services:
        meta = svc["metadata"]
        owner = owners.get(meta["namespace"])
        if owner is None or not markers.is_managed(svc, owner[0]):
            continue
        tenant, tenant_ns = owner
        zone = tables.tenants.setdefault(tenant, TenantZone())
        name = f"{meta['name']}.{tenant_ns}.svc.{tables.domain}".lower()
        slices_of = by_service.get((meta["namespace"], meta["name"]), [])
        tables.known_ips.update(_add_service(zone, svc, slices_of, name))
    for tenant in {t for t, _ in owners.values()}:
        zone = tables.tenants.setdefault(tenant, TenantZone())
        _mark_existing(zone, tables.domain, [ns for t, ns in owners.values() if t == tenant])
    tables.pod_tenant = pod_tenants(owners, pods)
    tables.known_ips.update(tables.pod_tenant)
    return tables


def pod_tenants(owners: dict[str, tuple[str, str]], pods: Iterable[Obj]) -> dict[str, str]:
    """Pod IP -> tenant, for fusionvc's pods in fusionvc's edge namespaces."""
    addresses = PodAddresses()
    addresses.rebuild(owners, pods)
    return addresses.tenant_of


def reverse_ip(name: str) -> str | None:
    """The address a reverse-lookup name (in-addr.arpa / ip6.arpa) stands for, if it is one."""
    labels = name.rstrip(".").lower().split(".")
    try:
        if labels[-2:] == ["in-addr", "arpa"] and len(labels) == 6:
            return str(ipaddress.IPv4Address(".".join(reversed(labels[:4]))))
        if labels[-2:] == ["ip6", "arpa"] and len(labels) == 34:
            digits = "".join(reversed(labels[:32]))
            return str(ipaddress.IPv6Address(int(digits, 16)))
    except ValueError:
        return None
    return None
