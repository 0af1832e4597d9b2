"""Scrapes every edge node's pod-metrics endpoint and keeps the newest samples per edge pod.

A node opts in with the annotation ``metrics.fusionvc.io/pod-metrics-path``; the
endpoint is ``https://<InternalIP>:<kubelet port><path>`` (TLS not verified, as
metrics-server's ``--kubelet-insecure-tls``). Only an InternalIP inside the allowed
networks (default 127.0.0.0/8) is dialled, never anything else: pod IPs are never
reached. Samples without ``namespace`` and ``pod`` labels are ignored. All edges and
nodes are scraped concurrently (at most ``parallel`` at once) every ``interval``
seconds; a node that does not answer keeps its samples for ``stale_after`` rounds.
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import aiohttp
import structlog

from syncer.fleet.conn import EdgeConn
from syncer.kube import Obj
from syncer.kube.apis import NODES
from syncer.podmetrics.promtext import Sample, parse_text

log = structlog.get_logger(__name__)
PATH_ANNOTATION = "metrics.fusionvc.io/pod-metrics-path"
LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"),)
MAX_BODY = 16 * 2**20
PodKey = tuple[str, str, str]  # (edge cluster, edge namespace, pod name)
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class PodSamples:
    """One pod's samples from one scrape (labels ``namespace``/``pod`` removed)."""

    timestamp_ms: int
    samples: tuple[Sample, ...]


def scrape_url(node: Obj, networks: Sequence[Network]) -> str | None:
    """Where this node's pod metrics are; None when it has none or its address is not allowed."""
    meta, status = node["metadata"], node.get("status") or {}
    path = (meta.get("annotations") or {}).get(PATH_ANNOTATION)
    port = ((status.get("daemonEndpoints") or {}).get("kubeletEndpoint") or {}).get("Port")
    address = next((a.get("address") for a in status.get("addresses") or []
                    if a.get("type") == "InternalIP"), None)
    if not path or not path.startswith("/") or not isinstance(port, int) or not address:
        return None
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None
    if not any(ip in net for net in networks):
        return None
    host = f"[{ip}]" if ip.version == 6 else str(ip)
    return f"https://{host}:{port}{path}"


def by_pod(samples: list[Sample], timestamp_ms: int) -> dict[tuple[str, str], PodSamples]:
    """Samples grouped by (namespace, pod), those two labels removed (pure)."""
    grouped: dict[tuple[str, str], list[Sample]] = {}
    for s in samples:
        ns, pod = s.label("namespace"), s.label("pod")
        if ns and pod:
            rest = tuple((k, v) for k, v in s.labels if k not in ("namespace", "pod"))
            grouped.setdefault((ns, pod), []).append(Sample(s.name, rest, s.value))
    return {k: PodSamples(timestamp_ms, tuple(v)) for k, v in grouped.items()}


class PodSeriesSource:
    """Owns one scraping task and one HTTP session; ``samples`` answers from memory."""

    def __init__(self, edges: Mapping[str, EdgeConn], interval: float, timeout: float = 10.0,
                 networks: Sequence[Network] = LOOPBACK, parallel: int = 16,
                 stale_after: int = 3) -> None:
        self.edges = edges
        self.interval = interval
        self.timeout = timeout
        self.networks = tuple(networks)
        self.max_age = interval * stale_after
        self._parallel = asyncio.Semaphore(parallel)
        self._nodes: dict[tuple[str, str], tuple[float, dict[tuple[str, str], PodSamples]]] = {}
        self._where: dict[PodKey, str] = {}  # edge pod -> the node it was last seen on
        self._session: aiohttp.ClientSession | None = None
        self._task: asyncio.Task[None] | None = None
        self.scraped = asyncio.Event()  # set after the first round
        self.failures = 0
        self.version = 0  # counts changes to the samples, for caches of what they hold

    def samples(self, edge: str, namespace: str, pod: str) -> PodSamples | None:
        """The newest samples of one edge pod; None when not measured (recently)."""
        node = self._where.get((edge, namespace, pod))
        entry = self._nodes.get((edge, node)) if node is not None else None
        if entry is None or time.monotonic() - entry[0] > self.max_age:
            return None
        return entry[1].get((namespace, pod))

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="podmetrics:scrape")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _run(self) -> None:
        while True:
            await self.scrape_once()
            self.scraped.set()
            await asyncio.sleep(self.interval)

    async def scrape_once(self) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                trust_env=False, connector=aiohttp.TCPConnector(ssl=False, limit=32),
                timeout=aiohttp.ClientTimeout(total=self.timeout))
        targets = [(edge.name, node["metadata"]["name"], url)
                   for edge in dict(self.edges).values() if edge.informers
                   for node in edge.store(NODES)
                   if (url := scrape_url(node, self.networks)) is not None]
        await asyncio.gather(*(self._scrape(*t) for t in targets))
        alive = {(e, n) for e, n, _ in targets}
        for gone in set(self._nodes) - alive:
            del self._nodes[gone]
            self.version += 1
        self._where = {(edge, ns, pod): node for (edge, node), (_, pods) in self._nodes.items()
                       for ns, pod in pods}

    async def _scrape(self, edge: str, node: str, url: str) -> None:
        assert self._session is not None
        async with self._parallel:
            try:
                async with self._session.get(url) as resp:
                    if resp.status != 200:
                        raise aiohttp.ClientError(f"HTTP {resp.status}")
                    body = await resp.content.read(MAX_BODY)
            except (aiohttp.ClientError, TimeoutError, OSError) as err:
                self.failures += 1
                log.debug("pod metrics scrape failed", cluster=edge, node=node, error=str(err))
                return
        samples, _bad = parse_text(body.decode("utf-8", "replace"))
        self.replace_node(edge, node, by_pod(samples, int(time.time() * 1000)))

    def replace_node(self, edge: str, node: str, pods: dict[tuple[str, str], PodSamples]) -> None:
        """The samples of every pod on one edge node, as just scraped."""
        self._nodes[(edge, node)] = (time.monotonic(), pods)
        self.version += 1
        for ns, pod in pods:
            self._where[(edge, ns, pod)] = node
