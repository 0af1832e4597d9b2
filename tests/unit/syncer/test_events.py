"""Events copied up (syncer/kinds/events.py)."""

from __future__ import annotations

import copy
from typing import Any

from syncer.core import markers
from syncer.kinds.events import translate_event_up

Obj = dict[str, Any]

EDGE_EVENT: Obj = {
    "apiVersion": "v1", "kind": "Event",
    "metadata": {"name": "shop-0.17a8b9c0d1e2f3a4", "namespace": "acme-abc123-shop",
                 "uid": "edge-event-uid", "resourceVersion": "77"},
    "involvedObject": {"apiVersion": "v1", "kind": "Pod", "name": "shop-0",
                       "namespace": "acme-abc123-shop", "uid": "edge-pod-uid",
                       "resourceVersion": "55", "fieldPath": "spec.containers{app}"},
    "reason": "Pulled", "message": "Successfully pulled image", "type": "Normal",
    "count": 3, "firstTimestamp": "2024-01-01T00:00:00Z",
    "lastTimestamp": "2024-01-01T00:05:00Z", "eventTime": None,
    "reportingComponent": "kubelet", "reportingInstance": "edge-node-7",
    "source": {"component": "kubelet", "host": "edge-node-7"},
}
TENANT_POD: Obj = {"metadata": {"name": "shop-0", "namespace": "shop", "uid": "tenant-pod-uid"}}


def test_event_up() -> None:
    event = copy.deepcopy(EDGE_EVENT)
    out = translate_event_up(event, TENANT_POD)
    assert event == EDGE_EVENT  # input untouched (source is copied before host is dropped)
    assert out == {
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": "shop-0.17a8b9c0d1e2f3a4", "namespace": "shop",
                     "labels": {markers.MANAGED_BY: "fusionvc"}},
        "involvedObject": {"apiVersion": "v1", "kind": "Pod", "name": "shop-0",
                           "namespace": "shop", "uid": "tenant-pod-uid",
                           "fieldPath": "spec.containers{app}"},
        "reason": "Pulled", "message": "Successfully pulled image", "type": "Normal",
        "count": 3, "firstTimestamp": "2024-01-01T00:00:00Z",
        "lastTimestamp": "2024-01-01T00:05:00Z",
        "reportingComponent": "kubelet", "reportingInstance": "edge-node-7",
        "source": {"component": "kubelet"},
    }


def test_no_edge_identity_leaks_into_involved_object() -> None:
    out = translate_event_up(copy.deepcopy(EDGE_EVENT), TENANT_POD)
    involved = out["involvedObject"]
    assert "acme-abc123-shop" not in involved.values()
    assert "edge-pod-uid" not in involved.values()
    assert "resourceVersion" not in involved
    assert "host" not in out["source"]


def test_service_event_without_field_path_or_source() -> None:
    event = copy.deepcopy(EDGE_EVENT)
    event["involvedObject"] = {"kind": "Service", "name": "web", "namespace": "acme-abc123-shop",
                               "uid": "edge-svc-uid"}
    del event["source"]
    svc = {"metadata": {"name": "web", "namespace": "shop", "uid": "tenant-svc-uid"}}
    out = translate_event_up(event, svc)
    assert out["involvedObject"] == {"apiVersion": "v1", "kind": "Service", "name": "web",
                                     "namespace": "shop", "uid": "tenant-svc-uid"}
    assert out["source"] == {}
