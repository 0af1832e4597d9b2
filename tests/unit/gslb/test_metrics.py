"""The GSLB server's metrics (syncer/gslb/metrics.py): counted per answer, read at scrape."""

from __future__ import annotations

import dns.message
from prometheus_client import generate_latest

from syncer.gslb.answer import Answerer, ServerIdentity
from syncer.gslb.metrics import GslbMetrics
from syncer.gslb.model import compile_table
from syncer.gslb.select import Selector

from .factories import EDGES, REGIONS, TENANTS, record


def sample(metrics: GslbMetrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def test_answers_are_counted_by_kind_and_transport_and_timed() -> None:
    metrics = GslbMetrics()
    table = compile_table([record("api.a.example.com", {"bj": 1})], EDGES, REGIONS, TENANTS,
                          serial=9)
    metrics.table.installed(table, 0.004)
    a = Answerer(Selector(table), ServerIdentity(("ns1.example.net.",)), stats=metrics.answers)
    for name, tcp in [("api.a.example.com", False), ("api.a.example.com", True),
                      ("nope.a.example.com", False), ("www.example.org", False)]:
        assert a.respond(dns.message.make_query(name, "A").to_wire(), "10.1.0.1", tcp=tcp)
    assert a.respond(b"\x00", "10.1.0.1") is None  # not even a header: dropped
    answers = "fusionvc_gslb_answers_total"
    assert sample(metrics, answers, kind="answer", transport="udp") == 1
    assert sample(metrics, answers, kind="answer", transport="tcp") == 1
    assert sample(metrics, answers, kind="nxdomain", transport="udp") == 1
    assert sample(metrics, answers, kind="refused", transport="udp") == 1
    assert sample(metrics, answers, kind="dropped", transport="udp") == 1
    assert sample(metrics, "fusionvc_gslb_answer_duration_seconds_count") == 5
    assert sample(metrics, "fusionvc_gslb_answer_duration_seconds_bucket", le="+Inf") == 5
    assert sample(metrics, "fusionvc_gslb_hosts") == 1
    assert sample(metrics, "fusionvc_gslb_table_serial") == 9
    assert sample(metrics, "fusionvc_gslb_table_compile_seconds") == 0.004
    text = generate_latest(metrics.registry).decode()
    assert "fusionvc_event_loop_lag_seconds_bucket" in text
    assert 'fusionvc_gslb_answer_duration_seconds_bucket{le="0.0001"}' in text
