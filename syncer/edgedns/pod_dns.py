"""The DNS settings of an edge pod (pure): the edge DNS for the tenant's cluster names.

A pod whose policy is ClusterFirst (the default) or ClusterFirstWithHostNet
would get the cluster DNS from its kubelet: on the edge it gets
``dnsPolicy: None`` with the tenant's nameserver on that edge, the search list
``<ns>.svc.<domain> svc.<domain> <domain>`` and ``ndots:5``, and its own
``dnsConfig`` merged as the kubelet merges it (nameservers and searches
appended without duplicates, options overriding by name), cut to the API's
limits (3 nameservers, 32 search domains, 2048 characters) as the kubelet cuts
them. ``Default`` (the node's resolver) and ``None`` (the pod's own config)
keep their meaning and pass unchanged, as does every pod when the edge has no
nameserver for its tenant.
"""

from __future__ import annotations

import copy
import ipaddress
from dataclasses import dataclass
from typing import Any

Obj = dict[str, Any]
MAX_NAMESERVERS = 3
MAX_SEARCHES = 32
MAX_SEARCH_CHARS = 2048
CLUSTER_POLICIES = (None, "", "ClusterFirst", "ClusterFirstWithHostNet")


@dataclass(frozen=True)
class EdgeDNS:
    nameserver: str
    cluster_domain: str = "cluster.local"


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _fit_searches(searches: list[str]) -> list[str]:
    kept: list[str] = []
    for domain in searches[:MAX_SEARCHES]:
        if len(" ".join([*kept, domain])) > MAX_SEARCH_CHARS:
            break
        kept.append(domain)
    return kept


def _merge_options(ours: list[Obj], theirs: list[Obj]) -> list[Obj]:
    merged = {o["name"]: o for o in ours}
    for option in theirs:
        if option.get("name"):
            merged[option["name"]] = copy.deepcopy(option)
    return list(merged.values())


def edge_pod_dns(spec: Obj, tenant_namespace: str, dns: EdgeDNS | None) -> Obj:
    """``dnsPolicy`` and ``dnsConfig`` of the edge pod (only the keys to set)."""
    policy = spec.get("dnsPolicy")
    if dns is None or policy not in CLUSTER_POLICIES:
        return {k: copy.deepcopy(spec[k]) for k in ("dnsPolicy", "dnsConfig") if k in spec}
    domain = dns.cluster_domain.strip(".")
    own = spec.get("dnsConfig") or {}
    searches = [f"{tenant_namespace}.svc.{domain}", f"svc.{domain}", domain]
    config: Obj = {
        "nameservers": _unique([dns.nameserver, *own.get("nameservers", [])])[:MAX_NAMESERVERS],
        "searches": _fit_searches(_unique([*searches, *own.get("searches", [])])),
        "options": _merge_options([{"name": "ndots", "value": "5"}], own.get("options", [])),
    }
    return {"dnsPolicy": "None", "dnsConfig": config}


def tenant_nameservers(edge_spec: Obj) -> tuple[dict[str, str], str, list[str]]:
    """(tenant -> nameserver, cluster domain, problems) from ``EdgeCluster.spec.dns``."""
    dns = edge_spec.get("dns") or {}
    domain = str(dns.get("clusterDomain") or "cluster.local").strip(".")
    found, problems = {}, []
    for tenant, address in (dns.get("tenantNameservers") or {}).items():
        try:
            found[str(tenant)] = str(ipaddress.ip_address(str(address)))
        except ValueError:
            problems.append(f"spec.dns.tenantNameservers.{tenant}: {address!r} is not an IP")
    return found, domain, problems
