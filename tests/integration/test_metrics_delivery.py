"""MetricsDelivery: a tenant's metrics in its own (real) Prometheus via remote write.

tenant-a asks for its namespace's metrics at a Prometheus server on 127.0.0.1 (the
Debian package, remote-write receiver on, basic auth); tenant-b runs pods in a
namespace of the same name on the same shared edge node and delivers nothing. The
test queries Prometheus with PromQL over its HTTP API: tenant-a's series under its
own names, none of tenant-b's, no edge names; then the receiver stopped (condition,
Event, buffer overflow counted, buffered samples delivered after the restart) and
rejected credentials (condition and Event, readable with kubectl describe).
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .kube_helpers import apply, get_json, items, namespace, running_pods, unique
from .prometheus_fixture import PASSWORD, USER, PrometheusServer
from .sandbox_fixture import Cluster, SandboxHandle
from .syncer_fixture import SyncerProcess, wait_for
from .test_custom_metrics import RPS
from .test_metrics_api import SHARED_NODE, usage_deployment

BUFFER = 120  # samples; 2 pods make 22 per 2 s round, so an outage of ~15 s overflows it


@pytest.fixture(scope="module")
def prometheus(sandbox: SandboxHandle) -> Iterator[PrometheusServer]:
    server = PrometheusServer(Path(sandbox.dir) / "prometheus").start()
    yield server
    server.stop()


def secret(ns: str, password: str) -> dict[str, Any]:
    data = {"username": USER, "password": password}
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "prom", "namespace": ns},
            "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}}


def delivery(ns: str, url: str) -> dict[str, Any]:
    return {"apiVersion": "edge.fusionvc.io/v1alpha1", "kind": "MetricsDelivery",
            "metadata": {"name": "to-my-prometheus", "namespace": ns},
            "spec": {"url": url, "credentialsSecretRef": {"name": "prom"},
                     "intervalSeconds": 2, "bufferSamples": BUFFER}}


def ready(tenant: Cluster, ns: str) -> tuple[str, str, dict[str, Any]]:
    obj = get_json(tenant, "metricsdelivery", "to-my-prometheus", "-n", ns)
    status = obj.get("status") or {}
    cond = next((c for c in status.get("conditions") or [] if c["type"] == "Ready"), {})
    return cond.get("status", ""), cond.get("reason", ""), status


def warnings(tenant: Cluster, ns: str) -> set[str]:
    return {e["reason"] for e in items(tenant, "events", "-n", ns)
            if e["type"] == "Warning" and e["involvedObject"]["kind"] == "MetricsDelivery"}


def annotated(dep: dict[str, Any], rps: str) -> dict[str, Any]:
    dep["spec"]["template"]["metadata"]["annotations"][RPS] = rps
    return dep


def test_delivery_to_the_tenants_prometheus(sandbox: SandboxHandle, syncer: SyncerProcess,
                                            prometheus: PrometheusServer) -> None:
    a, b = sandbox["tenant-a"], sandbox["tenant-b"]
    ns = unique("deliver")
    apply(a, namespace(ns), secret(ns, PASSWORD),
          annotated(usage_deployment(ns, "web", 2, "200m", "100Mi", SHARED_NODE), "7"))
    apply(b, namespace(ns), annotated(usage_deployment(ns, "other", 1, "50m", "50Mi",
                                                       SHARED_NODE), "3"))
    wait_for(lambda: len(running_pods(a, ns)) == 2 and len(running_pods(b, ns)) == 1, 180,
             "pods of both tenants running")
    pods_a = {p["metadata"]["name"] for p in running_pods(a, ns)}
    pods_b = {p["metadata"]["name"] for p in running_pods(b, ns)}
    apply(a, delivery(ns, prometheus.write_url))

    selector = f'{{namespace="{ns}"}}'
    wait_for(lambda: {r["metric"]["pod"] for r in prometheus.query(
        f'http_requests_per_second{selector} == 7')} == pods_a, 240,
        "tenant-a's own metric in Prometheus", every=3)
    wait_for(lambda: len(prometheus.query(
        f'kube_pod_status_phase{{namespace="{ns}",phase="Running"}} == 1')) == 2, 60,
        "pod phases", every=2)
    wait_for(lambda: len(prometheus.query(
        f'container_memory_working_set_bytes{selector} == {100 * 2**20}')) == 2, 120,
        "usage per container", every=3)
    series = prometheus.series(selector)
    assert {s["pod"] for s in series} == pods_a, "another tenant's pod was delivered"
    assert not pods_b & {s["pod"] for s in series}
    edge_words = ("edge-", "bj-cpu", "fvc-")
    assert not [s for s in series if any(w in v for v in s.values() for w in edge_words)]
    assert {s["__name__"] for s in series} >= {
        "kube_pod_container_status_restarts_total", "pod_cpu_usage_cores",
        "container_cpu_usage_cores", "pod_memory_working_set_bytes"}
    wait_for(lambda: ready(a, ns)[:2] == ("True", "Delivering"), 60, "Ready=True", every=2)

    # The receiver goes away: condition and Event; the buffer overflows, counted.
    stopped_at = time.time()
    prometheus.stop()
    wait_for(lambda: ready(a, ns)[:2] == ("False", "ReceiverUnreachable"), 60,
             "Ready=False ReceiverUnreachable", every=2)
    wait_for(lambda: "ReceiverUnreachable" in warnings(a, ns), 60, "Warning Event", every=2)
    wait_for(lambda: ready(a, ns)[2].get("samplesDropped", 0) > 0, 90,
             "the oldest samples dropped past the buffer", every=3)
    prometheus.start()
    restarted_at = time.time()
    wait_for(lambda: ready(a, ns)[:2] == ("True", "Delivering"), 90, "delivering again",
             every=2)
    # The samples buffered during the outage arrived (stamped while it was down).
    window = int(restarted_at - stopped_at) + 1
    wait_for(lambda: prometheus.query(
        f'count_over_time(http_requests_per_second{selector}[{window}s])',
        at=restarted_at), 60, "buffered samples from the outage", every=3)

    # Rejected credentials: condition and Event, shown by kubectl describe.
    apply(a, secret(ns, "wrong-password"))
    wait_for(lambda: ready(a, ns)[:2] == ("False", "CredentialsRejected"), 90,
             "Ready=False CredentialsRejected", every=2)
    wait_for(lambda: "CredentialsRejected" in warnings(a, ns), 60, "Warning Event", every=2)
    described = a.kubectl("describe", "metricsdelivery", "to-my-prometheus", "-n", ns).stdout
    assert "CredentialsRejected" in described, described
    a.kubectl("delete", "namespace", ns, "--wait=false")
    b.kubectl("delete", "namespace", ns, "--wait=false")


def test_bad_url_and_missing_secret_show_on_the_object(sandbox: SandboxHandle,
                                                       syncer: SyncerProcess) -> None:
    a = sandbox["tenant-a"]
    ns = unique("deliver-bad")
    apply(a, namespace(ns))
    proc = a.kubectl("apply", "-f", "-", check=False,
                     stdin=json.dumps(delivery(ns, "ftp://nowhere")))
    assert proc.returncode != 0 and "spec.url" in proc.stderr, proc.stderr  # schema refuses it
    apply(a, delivery(ns, "http://127.0.0.1:9/api/v1/write"))
    wait_for(lambda: ready(a, ns)[:2] == ("False", "SecretNotFound"), 90,
             "Ready=False SecretNotFound", every=2)
    wait_for(lambda: "SecretNotFound" in warnings(a, ns), 60, "Warning Event", every=2)
    a.kubectl("delete", "namespace", ns, "--wait=false")
