"""The ``resource`` label of fusionvc_api_requests_total: kube/apis.py resource_of splits a
REST path as kube-apiserver's RequestInfo does, and kube/client.py bounds its values."""

from __future__ import annotations

import pytest

from syncer.kube import client
from syncer.kube.apis import LEASES, NAMESPACES, NODES, PODS, resource_of


@pytest.mark.parametrize(("path", "resource"), [
    (PODS.path("ns-1", "web-0"), "pods"),
    (PODS.path("ns-1"), "pods"),
    (PODS.path(), "pods"),
    (PODS.path("ns-1", "web-0", "status"), "pods/status"),
    (PODS.path("ns-1", "web-0", "binding"), "pods/binding"),
    (NODES.path(None, "vn-edge-bj-n1", "status"), "nodes/status"),
    (LEASES.path("kube-node-lease", "vn-edge-bj-n1"), "leases.coordination.k8s.io"),
    (NAMESPACES.path(None, "status"), "namespaces"),  # a namespace called "status"
    (NAMESPACES.path(None, "ns-1", "finalize"), "namespaces/finalize"),
    (NAMESPACES.path(None, "ns-1", "status"), "namespaces/status"),
    ("/api/v1/namespaces/ns-1/serviceaccounts/default/token", "serviceaccounts/token"),
    ("/apis/authorization.k8s.io/v1/subjectaccessreviews", "subjectaccessreviews."
                                                             "authorization.k8s.io"),
    ("/apis/metrics.k8s.io/v1beta1/pods?labelSelector=a", "pods.metrics.k8s.io"),
    ("/readyz", "nonresource"),
    ("/version", "nonresource"),
    ("/api/v1", "nonresource"),
    ("/apis/apps/v1", "nonresource"),
])
def test_a_path_names_its_resource_without_object_or_namespace_names(
        path: str, resource: str) -> None:
    assert resource_of(path) == resource


def test_the_label_values_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(client, "_RESOURCES", set())
    monkeypatch.setattr(client, "MAX_RESOURCES", 2)
    assert client.resource_label("/api/v1/pods") == "pods"
    assert client.resource_label("/api/v1/nodes/n1/status") == "nodes/status"
    assert client.resource_label("/api/v1/secrets") == "other"  # a third kind
    assert client.resource_label("/api/v1/namespaces/a/pods/p") == "pods"  # seen before
