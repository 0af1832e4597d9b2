"""Which node endpoints are scraped (never a non-allowed address) and grouping by pod."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest

from syncer.podmetrics.promtext import Sample
from syncer.podmetrics.source import LOOPBACK, PATH_ANNOTATION, by_pod, scrape_url


def node(address: str, port: Any = 10250, path: str | None = "/metrics/pods") -> dict[str, Any]:
    annotations = {PATH_ANNOTATION: path} if path else {}
    return {"metadata": {"name": "n1", "annotations": annotations},
            "status": {"addresses": [{"type": "Hostname", "address": "n1"},
                                     {"type": "InternalIP", "address": address}],
                       "daemonEndpoints": {"kubeletEndpoint": {"Port": port}}}}


def test_loopback_node_is_scraped() -> None:
    assert scrape_url(node("127.0.0.1"), LOOPBACK) == "https://127.0.0.1:10250/metrics/pods"


@pytest.mark.parametrize("bad", [node("10.100.0.7"), node("192.168.1.2"), node("n1"),
                                 node("127.0.0.1", port="x"), node("127.0.0.1", path=None),
                                 node("127.0.0.1", path="metrics")])
def test_other_addresses_and_incomplete_nodes_are_not(bad: dict[str, Any]) -> None:
    assert scrape_url(bad, LOOPBACK) is None


def test_allowed_networks_are_configurable() -> None:
    nets = (ipaddress.ip_network("192.168.0.0/16"),)
    assert scrape_url(node("192.168.1.2"), nets) == "https://192.168.1.2:10250/metrics/pods"
    assert scrape_url(node("127.0.0.1"), nets) is None


def test_by_pod_drops_namespace_and_pod_labels_and_unlabelled_samples() -> None:
    samples = [Sample("rps", (("namespace", "e-ns"), ("pod", "p1"), ("path", "/")), 3.0),
               Sample("rps", (("namespace", "e-ns"), ("pod", "p2")), 1.0),
               Sample("up", (), 1.0)]
    grouped = by_pod(samples, 1000)
    assert set(grouped) == {("e-ns", "p1"), ("e-ns", "p2")}
    assert grouped[("e-ns", "p1")].samples == (Sample("rps", (("path", "/"),), 3.0),)
    assert grouped[("e-ns", "p1")].timestamp_ms == 1000
