"""Usage of every fusionvc pod on every edge cluster, polled from the edges' metrics.k8s.io.

Each edge cluster runs its own metrics-server (registered in that edge's apiserver);
this source lists ``/apis/metrics.k8s.io/v1beta1/pods`` of fusionvc's pods there every
``interval`` seconds, all edges concurrently, and keeps the newest usage per edge pod.
An edge that stops answering keeps its last figures for ``stale_after`` polls, then
they are dropped (a tenant sees no metrics rather than old ones).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping

import structlog

from syncer.core.markers import MANAGED_SELECTOR
from syncer.fleet.conn import EdgeConn
from syncer.kube.client import KubeError
from syncer.metricsapi.translate import EdgePodKey, PodUsage, index_edge_pod_metrics

log = structlog.get_logger(__name__)
POD_METRICS_PATH = "/apis/metrics.k8s.io/v1beta1/pods"


class EdgeMetricsSource:
    """Owns one polling task; ``usage`` answers from memory."""

    def __init__(self, edges: Mapping[str, EdgeConn], interval: float,
                 timeout: float = 10.0, stale_after: int = 3) -> None:
        self.edges = edges
        self.interval = interval
        self.timeout = timeout
        self.max_age = interval * stale_after
        self._by_edge: dict[str, tuple[float, dict[EdgePodKey, PodUsage]]] = {}
        self._task: asyncio.Task[None] | None = None
        self.polled = asyncio.Event()  # set after the first round

    def usage(self, edge: str, namespace: str, name: str) -> PodUsage | None:
        entry = self._by_edge.get(edge)
        if entry is None or time.monotonic() - entry[0] > self.max_age:
            return None
        return entry[1].get((edge, namespace, name))

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="metricsapi:edge-poll")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        while True:
            await self.poll_once()
            self.polled.set()
            await asyncio.sleep(self.interval)

    async def poll_once(self) -> None:
        edges = dict(self.edges)
        await asyncio.gather(*(self._poll_edge(conn) for conn in edges.values()))
        for gone in set(self._by_edge) - set(edges):
            del self._by_edge[gone]

    async def _poll_edge(self, edge: EdgeConn) -> None:
        try:
            body = await edge.client.request("GET", POD_METRICS_PATH,
                                             query={"labelSelector": MANAGED_SELECTOR},
                                             timeout=self.timeout)
        except KubeError as err:
            log.warning("edge metrics not available", cluster=edge.name, status=err.status,
                        reason=err.reason)
            return
        self.replace_edge(edge.name, index_edge_pod_metrics(edge.name, body.get("items") or []))

    def replace_edge(self, edge: str, usage: dict[EdgePodKey, PodUsage]) -> None:
        """The usage of every fusionvc pod of one edge, as just measured."""
        self._by_edge[edge] = (time.monotonic(), usage)
