"""Both metric sources a process needs, made once and shared (metrics API and delivery).

``usage`` polls the edges' metrics.k8s.io (resource usage per edge pod); ``series``
scrapes the pods' own metrics. ``start`` is idempotent (the first user starts them);
``stop`` ends both tasks.
"""

from __future__ import annotations

from collections.abc import Mapping

from syncer.fleet.conn import EdgeConn
from syncer.metricsapi.edge_source import EdgeMetricsSource
from syncer.podmetrics.source import PodSeriesSource


class MetricSources:
    def __init__(self, edges: Mapping[str, EdgeConn], usage_interval: float = 10.0,
                 series_interval: float = 10.0, timeout: float = 10.0) -> None:
        self.usage = EdgeMetricsSource(edges, usage_interval, timeout)
        self.series = PodSeriesSource(edges, series_interval, timeout)
        self._started = False

    def start(self) -> None:
        if not self._started:
            self._started = True
            self.usage.start()
            self.series.start()

    async def stop(self) -> None:
        self._started = False
        await self.usage.stop()
        await self.series.stop()
