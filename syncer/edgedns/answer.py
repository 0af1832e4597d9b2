"""Answers from the record tables for one tenant (pure: a query message in, a response out).

The cluster domain is the tenant's alone: a name under it that the tenant has
not got is NXDOMAIN, never forwarded (the edge's own DNS would resolve other
tenants' edge namespaces). Reverse names of addresses this edge knows are
answered only when they are the tenant's own; every other name returns None,
which tells the server to forward the query upstream.
"""

from __future__ import annotations

import functools

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset

from syncer.edgedns.tables import NameRecords, Tables, TenantZone, reverse_ip

IN = dns.rdataclass.IN


def _rrset(name: dns.name.Name, ttl: int, rdtype: dns.rdatatype.RdataType,
           values: list[str]) -> dns.rrset.RRset:
    return dns.rrset.from_text_list(name, ttl, IN, rdtype, values)


def _srv_rrset(name: dns.name.Name, ttl: int, rec: NameRecords) -> dns.rrset.RRset:
    rrset = dns.rrset.RRset(name, IN, dns.rdatatype.SRV)
    for srv in rec.srv:
        rrset.add(dns.rdata.from_text(IN, dns.rdatatype.SRV,
                                      f"{srv.priority} {srv.weight} {srv.port} {srv.target}"), ttl)
    return rrset


@functools.lru_cache(maxsize=16)
def soa(domain: str, ttl: int) -> dns.rrset.RRset:
    """The zone's SOA (for negative answers); one shared, never changed instance."""
    origin = dns.name.from_text(domain)
    rrset = dns.rrset.RRset(origin, IN, dns.rdatatype.SOA)
    rrset.add(dns.rdata.from_text(IN, dns.rdatatype.SOA, f"ns.dns.{domain} hostmaster.{domain} "
                                  f"1 7200 1800 86400 {ttl}"), ttl)
    return rrset


def _address_answers(qname: dns.name.Name, qtype: int, rec: NameRecords,
                     ttl: int) -> list[dns.rrset.RRset]:
    sets = []
    if qtype in (dns.rdatatype.A, dns.rdatatype.ANY) and rec.a:
        sets.append(_rrset(qname, ttl, dns.rdatatype.A, rec.a))
    if qtype in (dns.rdatatype.AAAA, dns.rdatatype.ANY) and rec.aaaa:
        sets.append(_rrset(qname, ttl, dns.rdatatype.AAAA, rec.aaaa))
    return sets


def _fill(response: dns.message.Message, zone: TenantZone, qname: dns.name.Name, qtype: int,
          rec: NameRecords, ttl: int) -> None:
    if rec.cname:
        response.answer.append(_rrset(qname, ttl, dns.rdatatype.CNAME, [rec.cname]))
        return
    response.answer.extend(_address_answers(qname, qtype, rec, ttl))
    if qtype in (dns.rdatatype.SRV, dns.rdatatype.ANY) and rec.srv:
        response.answer.append(_srv_rrset(qname, ttl, rec))
        for target in dict.fromkeys(s.target for s in rec.srv):
            held = zone.names.get(target)
            if held is not None:
                tname = dns.name.from_text(target)
                response.additional.extend(_address_answers(tname, dns.rdatatype.ANY, held, ttl))


def _authoritative(response: dns.message.Message, tables: Tables, zone: TenantZone,
                   qname: dns.name.Name, name: str, qtype: int, ttl: int) -> None:
    response.flags |= dns.flags.AA
    rec = zone.names.get(name)
    if rec is not None:
        _fill(response, zone, qname, qtype, rec, ttl)
    elif name not in zone.existing:
        response.set_rcode(dns.rcode.NXDOMAIN)
    if not response.answer:
        response.authority.append(soa(tables.domain, ttl))


def _reverse(response: dns.message.Message, tables: Tables, zone: TenantZone,
             qname: dns.name.Name, ip: str, ttl: int) -> None:
    response.flags |= dns.flags.AA
    target = zone.ptr.get(ip)
    if target is None:
        response.set_rcode(dns.rcode.NXDOMAIN)
        response.authority.append(soa(tables.domain, ttl))
    else:
        response.answer.append(_rrset(qname, ttl, dns.rdatatype.PTR, [target]))


def answer(tables: Tables, tenant: str, query: dns.message.Message,
           ttl: int) -> dns.message.Message | None:
    """The response for the tenant, or None when the query belongs upstream."""
    if len(query.question) != 1:
        response = dns.message.make_response(query)
        response.set_rcode(dns.rcode.FORMERR)
        return response
    question = query.question[0]
    qname, qtype = question.name, question.rdtype
    name = qname.to_text().lower()
    zone = tables.zone(tenant)
    if question.rdclass != IN:
        return None
    if name == tables.domain or name.endswith("." + tables.domain):
        response = dns.message.make_response(query)
        _authoritative(response, tables, zone, qname, name, qtype, ttl)
        return response
    ip = reverse_ip(name)
    if ip is not None and (ip in tables.known_ips or ip in tables.pod_tenant or ip in zone.ptr):
        response = dns.message.make_response(query)
        if qtype in (dns.rdatatype.PTR, dns.rdatatype.ANY):
            _reverse(response, tables, zone, qname, ip, ttl)
        elif ip not in zone.ptr:
            response.set_rcode(dns.rcode.NXDOMAIN)
        return response
    return None


def refused(query: dns.message.Message) -> dns.message.Message:
    response = dns.message.make_response(query)
    response.set_rcode(dns.rcode.REFUSED)
    return response
