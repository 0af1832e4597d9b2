"""Which addresses one query gets (pure apart from the rotation state it owns).

1. Candidate sites: weight > 0 and not drained (drained ones only when nothing else is
   left: an answer is never empty while any site has ready replicas), with an entrance of
   the asked address family.
2. Nearest: the client region's latency from each site's EdgeCluster latency table; keep
   the sites within ``tolerance`` of the nearest. Sites without a figure for the region
   count only when no site has one; an unknown region keeps every candidate.
3. Carrier: when some kept site has an entrance of the client's carrier, only those sites
   (and only those entrances) stay.
4. Smooth weighted round robin (as nginx's upstreams) over the kept sites' weights: over
   every run of sum(weights) answers each site is picked exactly weight times, so the
   split follows ready replicas exactly and does not rely on record order (which
   resolvers shuffle). Rotation state lives per (hostname, region, carrier, family); a
   new table keeps the state of every candidate list it leaves unchanged, so unrelated
   updates do not restart the cycle.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from syncer.gslb.model import ClientInfo, Entrance, Host, Site, Table

CandidateKey = tuple[str, str | None, str | None, int]


def _with_family(site: Site, family: int) -> tuple[Entrance, ...]:
    return tuple(e for e in site.entrances if e.family == family)


def nearest(sites: list[Site], region: str | None, tolerance_ms: float) -> list[Site]:
    if region is None:
        return sites
    known = [s for s in sites if region in s.latency_ms]
    if not known:
        return sites
    best = min(s.latency_ms[region] for s in known)
    return [s for s in known if s.latency_ms[region] <= best + tolerance_ms]


def candidates(host: Host, client: ClientInfo, family: int) -> list[tuple[Site, tuple[str, ...]]]:
    """The sites one client may get, each with the addresses it may be given."""
    usable = [s for s in host.sites if s.weight > 0 and _with_family(s, family)]
    live = [s for s in usable if not s.drained] or usable
    near = nearest(live, client.region, host.tolerance_ms)
    if client.carrier:
        same = [s for s in near if any(e.carrier == client.carrier
                                       for e in _with_family(s, family))]
        if same:
            return [(s, tuple(e.address for e in _with_family(s, family)
                              if e.carrier == client.carrier)) for s in same]
    return [(s, tuple(e.address for e in _with_family(s, family))) for s in near]


@dataclass
class Rotation:
    """Smooth weighted round robin over one candidate list, and address rotation per site."""

    sites: list[tuple[Site, tuple[str, ...]]]
    current: list[int] = field(default_factory=list)
    next_address: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.current = [0] * len(self.sites)
        self.next_address = [0] * len(self.sites)
        self.total = sum(s.weight for s, _ in self.sites)

    def _next_site(self) -> int:
        best = 0
        for i, (site, _) in enumerate(self.sites):
            self.current[i] += site.weight
            if self.current[i] > self.current[best]:
                best = i
        self.current[best] -= self.total
        return best

    def pick(self, count: int) -> list[str]:
        """``count`` addresses of distinct sites (fewer when fewer sites are left)."""
        count = min(count, len(self.sites))
        chosen: list[int] = []
        for _ in range(count * len(self.sites)):
            if len(chosen) == count:
                break
            i = self._next_site()
            if i not in chosen:
                chosen.append(i)
        addresses = []
        for i in chosen:
            addrs = self.sites[i][1]
            addresses.append(addrs[self.next_address[i] % len(addrs)])
            self.next_address[i] += 1
        return addresses


class Selector:
    """Answers for one table; replaced together with the table."""

    MAX_ROTATIONS = 200_000

    def __init__(self, table: Table, previous: Selector | None = None) -> None:
        self.table = table
        self._rotations: dict[CandidateKey, Rotation] = {}
        self._previous = previous._rotations if previous is not None else {}

    def addresses(self, host: Host, client: ClientInfo, family: int) -> list[str]:
        key = (host.hostname, client.region, client.carrier, family)
        rotation = self._rotations.get(key)
        if rotation is None:
            if len(self._rotations) >= self.MAX_ROTATIONS:
                self._rotations.clear()
            sites = candidates(host, client, family)
            kept = self._previous.pop(key, None)
            rotation = kept if kept is not None and kept.sites == sites else Rotation(sites)
            self._rotations[key] = rotation
        return rotation.pick(host.answers) if rotation.sites else []
