"""One DNS query in, one response out (dnspython wire format; no I/O).

- Outside every hosted zone: REFUSED (this server is no resolver).
- An exported hostname: A or AAAA from the selector, TTL from the ServiceDomain; no
  address of that family, or another type: NOERROR with no answer and the zone's SOA.
- The zone apex: SOA and NS. Any other name in a hosted zone: NXDOMAIN with the SOA.
- EDNS client subnet: the region is looked up by the subnet's address, and the option is
  echoed with the scope prefix length set to the source prefix length.
- UDP answers larger than the client's payload size are truncated (TC) for a TCP retry.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import dns.edns
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset

from syncer.gslb.metrics import AnswerStats
from syncer.gslb.model import ClientInfo, Table, normalize
from syncer.gslb.select import Selector

UDP_DEFAULT_PAYLOAD = 512
TCP_MAX = 65535
NEGATIVE_TTL = 30
SOA_TIMERS = (3600, 600, 86400, NEGATIVE_TTL)  # refresh, retry, expire, minimum
UNKNOWN_CLIENT = ClientInfo(None, None)
FAMILY: dict[int, int] = {int(dns.rdatatype.A): 4, int(dns.rdatatype.AAAA): 6}


@dataclass(frozen=True)
class ServerIdentity:
    nameservers: tuple[str, ...]  # NS names of every hosted zone, absolute
    hostmaster: str = "hostmaster"


Decision = tuple[str, str, tuple[str, ...], int]  # (kind, zone, addresses, ttl)
CACHE_MAX = 50_000


@dataclass(frozen=True)
class ParsedQuery:
    """What dnspython made of one query, kept by its bytes after the ID."""

    query: dns.message.Message
    name: str  # normalized
    rdtype: int
    rdclass: int
    ecs: dns.edns.ECSOption | None
    udp_limit: int


class QueryCache:
    """Parsed queries by their bytes after the ID (bounded; shared across tables): a resolver
    sends the same bytes for the same question, so dnspython parses each shape once."""

    def __init__(self, limit: int = CACHE_MAX) -> None:
        self.limit = limit
        self._parsed: dict[bytes, ParsedQuery] = {}

    def get(self, wire: bytes) -> ParsedQuery | None:
        """The parsed query; raises DNSException when it is malformed, None when it is not
        a plain single-question QUERY (which is answered without the cache)."""
        shape = wire[2:]
        found = self._parsed.get(shape)
        if found is not None:
            return found
        query = dns.message.from_wire(wire)
        if query.flags & dns.flags.QR or query.opcode() != dns.opcode.QUERY \
                or len(query.question) != 1:
            return None
        question = query.question[0]
        ecs = next((o for o in query.options if isinstance(o, dns.edns.ECSOption)), None)
        limit = max(UDP_DEFAULT_PAYLOAD, query.payload if query.edns >= 0 else 0)
        found = ParsedQuery(query, normalize(question.name.to_text()), question.rdtype,
                            question.rdclass, ecs, limit)
        if len(self._parsed) >= self.limit:
            self._parsed.clear()
        self._parsed[shape] = found
        return found


class Answerer:
    """Answers from one table. Responses are cached as wire bytes by the query's bytes and
    the decision, so the weighted choice stays per query while dnspython parses and
    encodes once per distinct query and answer."""

    def __init__(self, selector: Selector, identity: ServerIdentity,
                 queries: QueryCache | None = None, stats: AnswerStats | None = None) -> None:
        self.selector, self.identity = selector, identity
        self.queries = queries or QueryCache()
        self.stats = stats  # shared across tables, like the query cache
        self._wire: dict[tuple[bytes, Decision, bool], bytes] = {}

    @property
    def table(self) -> Table:
        return self.selector.table

    def respond(self, wire: bytes, source: str, tcp: bool = False) -> bytes | None:
        """The response to one query from ``source``; None when it is not worth answering."""
        if self.stats is None:
            return self._respond(wire, source, tcp)[0]
        started = time.perf_counter()
        reply, kind = self._respond(wire, source, tcp)
        self.stats.observe(kind if reply is not None else "dropped", tcp,
                           time.perf_counter() - started)
        return reply

    def _respond(self, wire: bytes, source: str, tcp: bool) -> tuple[bytes | None, str]:
        try:
            parsed = self.queries.get(wire)
        except dns.exception.DNSException:
            return _formerr(wire), "formerr"
        if parsed is None:
            return _other(wire), "other"
        decision = self.decide(parsed, parsed.ecs.address if parsed.ecs else source)
        key = (wire[2:], decision, tcp)
        cached = self._wire.get(key)
        if cached is None:
            cached = self._build(parsed, decision, TCP_MAX if tcp else parsed.udp_limit)
            if len(self._wire) >= CACHE_MAX:
                self._wire.clear()
            self._wire[key] = cached
        return wire[:2] + cached[2:], decision[0]

    def decide(self, parsed: ParsedQuery, client_address: str) -> Decision:
        """What the answer is, before encoding: the only part that varies per query."""
        name, qtype = parsed.name, parsed.rdtype
        zone = self.table.zone_of(name)
        if zone is None or parsed.rdclass != dns.rdataclass.IN:
            return ("refused", "", (), 0)
        host = self.table.hosts.get(name)
        if host is not None and qtype in FAMILY:
            client = self.table.networks.lookup(client_address) or UNKNOWN_CLIENT
            addresses = self.selector.addresses(host, client, FAMILY[qtype])
            if addresses:
                return ("answer", zone, tuple(addresses), host.ttl)
        if name == zone and qtype in (dns.rdatatype.SOA, dns.rdatatype.NS):
            return ("soa" if qtype == dns.rdatatype.SOA else "ns", zone, (), 0)
        return ("nodata" if host is not None or name == zone else "nxdomain", zone, (), 0)

    def _build(self, parsed: ParsedQuery, decision: Decision, limit: int) -> bytes:
        query, ecs = parsed.query, parsed.ecs
        response = dns.message.make_response(query, our_payload=1232)
        response.flags |= dns.flags.AA
        response.flags &= ~dns.flags.RA
        if ecs is not None:  # echoed, scope = source prefix length (RFC 7871)
            response.use_edns(0, payload=1232, options=[
                dns.edns.ECSOption(ecs.address, ecs.srclen, ecs.srclen)])
        kind, zone, addresses, ttl = decision
        question = query.question[0]
        if kind == "refused":
            response.set_rcode(dns.rcode.REFUSED)
            response.flags &= ~dns.flags.AA
        elif kind == "answer":
            response.answer.append(dns.rrset.from_text_list(
                question.name, ttl, dns.rdataclass.IN, question.rdtype, list(addresses)))
        elif kind in ("soa", "ns"):
            response.answer.append(self._soa(zone) if kind == "soa" else self._ns(zone))
        else:
            if kind == "nxdomain":
                response.set_rcode(dns.rcode.NXDOMAIN)
            response.authority.append(self._soa(zone))
        try:
            return response.to_wire(max_size=limit)
        except dns.exception.TooBig:
            response.answer, response.authority, response.additional = [], [], []
            response.flags |= dns.flags.TC
            return response.to_wire()

    def _soa(self, zone: str) -> dns.rrset.RRset:
        mname = self.identity.nameservers[0]
        text = (f"{mname} {self.identity.hostmaster}.{zone}. {self.table.serial} "
                + " ".join(str(t) for t in SOA_TIMERS))
        return dns.rrset.from_text_list(zone + ".", NEGATIVE_TTL, dns.rdataclass.IN,
                                        dns.rdatatype.SOA, [text])

    def _ns(self, zone: str) -> dns.rrset.RRset:
        return dns.rrset.from_text_list(zone + ".", 3600, dns.rdataclass.IN, dns.rdatatype.NS,
                                        list(self.identity.nameservers))


def _other(wire: bytes) -> bytes | None:
    """Responses are dropped; other opcodes get NOTIMP, several questions FORMERR."""
    query = dns.message.from_wire(wire)
    if query.flags & dns.flags.QR:
        return None
    response = dns.message.make_response(query, our_payload=1232)
    response.set_rcode(dns.rcode.NOTIMP if query.opcode() != dns.opcode.QUERY
                       else dns.rcode.FORMERR)
    return response.to_wire()


def _formerr(wire: bytes) -> bytes | None:
    """FORMERR echoing the ID when at least a header arrived; nothing otherwise."""
    if len(wire) < 12:
        return None
    flags = dns.flags.QR | (int.from_bytes(wire[2:4], "big") & dns.flags.RD)
    return wire[:2] + (flags | dns.rcode.FORMERR).to_bytes(2, "big") + b"\x00" * 8
