"""MetricsDelivery spec and credentials, the bounded buffer, and series in tenant terms."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from syncer.metricsapi.translate import ContainerUsage, PodUsage
from syncer.metricsdelivery.buffer import SampleBuffer
from syncer.metricsdelivery.collect import namespace_series
from syncer.metricsdelivery.spec import DeliverySpecError, auth_headers, parse_spec
from syncer.metricsdelivery.status import delivery_status
from syncer.metricsdelivery.worker import DeliveryState, classify
from syncer.podmetrics.promtext import Sample
from syncer.podmetrics.source import PodSamples


def test_spec_defaults_and_fields() -> None:
    spec = parse_spec({"url": "https://prom.example/api/v1/write",
                       "credentialsSecretRef": {"name": "prom"}, "metrics": ["rps"],
                       "intervalSeconds": 5, "bufferSamples": 10})
    assert (spec.secret_name, spec.interval_s, spec.buffer_samples) == ("prom", 5.0, 10)
    assert spec.wants("rps") and not spec.wants("other")
    assert parse_spec({"url": "http://127.0.0.1:9090/w"}).wants("anything")


@pytest.mark.parametrize("spec", [{}, {"url": "ftp://x"}, {"url": "http://"},
                                  {"url": "http://h:99999/"},
                                  {"url": "http://h", "intervalSeconds": 0},
                                  {"url": "http://h", "metrics": [""]}])
def test_bad_specs_say_what(spec: dict[str, Any]) -> None:
    with pytest.raises(DeliverySpecError) as err:
        parse_spec(spec)
    assert err.value.reason == "InvalidSpec" and "spec." in str(err.value)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_credentials() -> None:
    meta = {"name": "prom"}
    assert auth_headers({"metadata": meta, "data": {"token": b64("t0k")}}) == {
        "Authorization": "Bearer t0k"}
    basic = auth_headers({"metadata": meta, "data": {"username": b64("u"),
                                                     "password": b64("p")}})
    assert basic == {"Authorization": "Basic " + b64("u:p")}
    with pytest.raises(DeliverySpecError) as err:
        auth_headers({"metadata": meta, "data": {"username": b64("u")}})
    assert err.value.reason == "InvalidCredentials"


def test_buffer_drops_the_oldest_and_counts() -> None:
    buffer = SampleBuffer(limit=3)
    assert buffer.add([((), float(i), i) for i in range(2)]) == 0
    assert buffer.add([((), float(i), i) for i in range(2, 5)]) == 2
    assert [e[2] for e in buffer.peek(10)] == [2, 3, 4] and buffer.dropped == 2
    buffer.consume(2)
    assert len(buffer) == 1 and buffer.peek(1)[0][2] == 4


def pod(name: str, phase: str = "Running") -> dict[str, Any]:
    return {"metadata": {"namespace": "web", "name": name},
            "status": {"phase": phase, "containerStatuses": [{"name": "main",
                                                              "restartCount": 2}]}}


def test_series_are_in_tenant_terms_and_filtered() -> None:
    usage = PodUsage("t", "15s", (ContainerUsage("main", 250_000_000, 2**20),))
    own = PodSamples(1, (Sample("rps", (("namespace", "edge-ns-x"), ("path", "/")), 7.0),))
    got = namespace_series([pod("p1"), pod("p2", "Pending")],
                           lambda p: usage if p["metadata"]["name"] == "p1" else None,
                           lambda p: own if p["metadata"]["name"] == "p1" else None,
                           1000, lambda _name: True)
    by = {(dict(labels)["__name__"], dict(labels)["pod"], dict(labels).get("phase")): value
          for labels, value, ts in got}
    assert by[("kube_pod_status_phase", "p1", "Running")] == 1.0
    assert by[("kube_pod_status_phase", "p2", "Running")] == 0.0
    assert by[("kube_pod_status_phase", "p2", "Pending")] == 1.0
    assert by[("kube_pod_container_status_restarts_total", "p1", None)] == 2.0
    assert by[("container_cpu_usage_cores", "p1", None)] == 0.25
    assert ("pod_cpu_usage_cores", "p2", None) not in by  # not measured
    rps = [dict(labels) for labels, _, _ in got if dict(labels)["__name__"] == "rps"]
    assert rps == [{"__name__": "rps", "namespace": "web", "pod": "p1", "job": "fusionvc",
                    "path": "/"}]  # the edge namespace label replaced
    assert all(ts == 1000 for _, _, ts in got)
    only = namespace_series([pod("p1")], lambda p: usage, lambda p: own, 1,
                            lambda name: name == "rps")
    assert [dict(labels)["__name__"] for labels, _, _ in only] == ["rps"]


def test_status_and_failure_classes() -> None:
    obj = {"metadata": {"generation": 3}, "status": {}}
    status = delivery_status(obj, DeliveryState(ready=False, reason="ReceiverUnreachable",
                                                message="down", sent=5, dropped=2),
                             now="2026-11-30T00:00:00Z")
    assert status["conditions"][0]["status"] == "False"
    assert (status["samplesSent"], status["samplesDropped"], status["observedGeneration"]) == (
        5, 2, 3)
    assert classify(401, "").reason == "CredentialsRejected"
    assert classify(503, "").reason == "ReceiverError" and not classify(503, "").permanent
    assert classify(400, "out of order").permanent
