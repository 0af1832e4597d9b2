"""Prometheus metrics of the GSLB DNS server, cheap enough for every answer.

Answers are counted in plain integers (a dict and a fixed bucket list) that the hot path
bumps without locks or label look-ups; a custom collector turns them into Prometheus
families when ``/metrics`` is scraped. Series:

- ``fusionvc_gslb_answers_total{kind, transport}``: kind is the decision (answer,
  nodata, nxdomain, refused, soa, ns) or ``formerr``/``other``/``dropped``;
- ``fusionvc_gslb_answer_duration_seconds``: time from a query's bytes to its answer's
  bytes inside the server (histogram);
- ``fusionvc_gslb_hosts``, ``fusionvc_gslb_zones``, ``fusionvc_gslb_table_serial``,
  ``fusionvc_gslb_table_compiled_timestamp_seconds``, ``fusionvc_gslb_table_compile_seconds``:
  the table in use and how fresh it is (a stale timestamp while the management cluster
  is down is expected: the server keeps its last table);
- ``fusionvc_event_loop_lag_seconds``: from the shared health server's heartbeat.
"""

from __future__ import annotations

import bisect
import time
from collections import Counter
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

from syncer.gslb.model import Table

ANSWER_BUCKETS = (0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05)
LAG_BUCKETS = (0.001, 0.01, 0.05, 0.1, 0.5, 1.0, 2.5, 5.0, 10.0)


class AnswerStats:
    """Counts and latency buckets, bumped by the server for every query."""

    def __init__(self) -> None:
        self.kinds: Counter[tuple[str, str]] = Counter()
        self.buckets = [0] * (len(ANSWER_BUCKETS) + 1)
        self.seconds = 0.0

    def observe(self, kind: str, tcp: bool, seconds: float) -> None:
        self.kinds[(kind, "tcp" if tcp else "udp")] += 1
        self.buckets[bisect.bisect_left(ANSWER_BUCKETS, seconds)] += 1
        self.seconds += seconds


class TableStats:
    """What the server answers from."""

    def __init__(self) -> None:
        self.hosts = self.zones = self.serial = 0
        self.compiled_at = 0.0
        self.compile_seconds = 0.0

    def installed(self, table: Table, compile_seconds: float) -> None:
        self.hosts, self.zones, self.serial = len(table.hosts), len(table.zones), table.serial
        self.compiled_at, self.compile_seconds = time.time(), compile_seconds


class _GslbCollector(Collector):
    def __init__(self, answers: AnswerStats, table: TableStats) -> None:
        self.answers, self.table = answers, table

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily | HistogramMetricFamily]:
        counts = CounterMetricFamily("fusionvc_gslb_answers", "DNS answers by kind and transport.",
                                     labels=("kind", "transport"))
        for (kind, transport), n in sorted(self.answers.kinds.items()):
            counts.add_metric((kind, transport), n)
        yield counts
        cumulative, running = [], 0
        for bound, n in zip((*ANSWER_BUCKETS, float("inf")), self.answers.buckets, strict=True):
            running += n
            cumulative.append((repr(bound) if bound != float("inf") else "+Inf", running))
        hist = HistogramMetricFamily("fusionvc_gslb_answer_duration_seconds",
                                     "Time from a query's bytes to its answer's bytes.")
        hist.add_metric((), cumulative, sum_value=self.answers.seconds)
        yield hist
        for name, doc, value in (
                ("hosts", "Exported hostnames in the table in use.", self.table.hosts),
                ("zones", "Hosted zones in the table in use.", self.table.zones),
                ("table_serial", "SOA serial of the table in use.", self.table.serial),
                ("table_compiled_timestamp_seconds", "When the table in use was compiled.",
                 self.table.compiled_at),
                ("table_compile_seconds", "How long compiling the table in use took.",
                 self.table.compile_seconds)):
            yield GaugeMetricFamily(f"fusionvc_gslb_{name}", doc, value=value)


class GslbMetrics:
    """The GSLB server's registry; shaped for syncer.ops.health.HealthServer."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.answers = AnswerStats()
        self.table = TableStats()
        self.registry.register(_GslbCollector(self.answers, self.table))
        self.event_loop_lag = Histogram(
            "fusionvc_event_loop_lag_seconds", "How late the event loop woke a 1 s heartbeat.",
            buckets=LAG_BUCKETS, registry=self.registry)
