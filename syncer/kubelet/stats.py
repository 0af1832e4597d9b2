"""What the kubelet endpoint holds open, as Prometheus gauges (``/metrics``).

- ``fusionvc_kubelet_log_streams{protocol}``: open ``containerLogs`` streams,
  by the protocol the tenant apiserver called with (``h2``, ``http/1.1``);
- ``fusionvc_kubelet_tenant_connections{protocol="h2"}``: HTTP/2 connections
  from tenant apiservers;
- ``fusionvc_kubelet_edge_connections{cluster}``: HTTP/2 connections to edge
  API servers (followed logs share them).
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Callable, Iterator, Mapping

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector


class EndpointStats:
    """Counts kept by the endpoint as streams and connections open and close."""

    def __init__(self) -> None:
        self.log_streams: Counter[str] = Counter()
        self.tenant_connections: Counter[str] = Counter()

    @contextlib.contextmanager
    def log_stream(self, protocol: str) -> Iterator[None]:
        """Counts one open log stream while the block runs."""
        self.log_streams[protocol] += 1
        try:
            yield
        finally:
            self.log_streams[protocol] -= 1


class EndpointCollector(Collector):
    """Renders the endpoint's counts and its edge connections on each scrape."""

    def __init__(self, stats: EndpointStats,
                 edge_connections: Callable[[], Mapping[str, int]]) -> None:
        self.stats, self.edge_connections = stats, edge_connections

    def collect(self) -> Iterator[GaugeMetricFamily]:
        streams = GaugeMetricFamily("fusionvc_kubelet_log_streams", "Open containerLogs "
                                    "streams of the kubelet endpoint, by the tenant apiserver's "
                                    "protocol.", labels=["protocol"])
        for protocol in ("h2", "http/1.1"):
            streams.add_metric([protocol], self.stats.log_streams[protocol])
        tenants = GaugeMetricFamily("fusionvc_kubelet_tenant_connections", "HTTP/2 "
                                    "connections from tenant apiservers to the kubelet "
                                    "endpoint.", labels=["protocol"])
        tenants.add_metric(["h2"], self.stats.tenant_connections["h2"])
        edges = GaugeMetricFamily("fusionvc_kubelet_edge_connections", "HTTP/2 connections "
                                  "of the kubelet endpoint to edge API servers, by cluster.",
                                  labels=["cluster"])
        for cluster, count in sorted(self.edge_connections().items()):
            edges.add_metric([cluster], count)
        yield from (streams, tenants, edges)
