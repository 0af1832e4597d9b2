"""hack/bench/floor_syncer.py's pure parts: the edge copy, the binding, the status patch,
the virtual nodes, their status and Leases, and when a deleted namespace is finalized."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "hack" / "bench"))
from floor_syncer import (
    FLOOR_LABEL,
    binding,
    edge_pod,
    node_lease,
    only_discovery_holds,
    ready_status,
    status_patch,
    virtual_nodes,
)

POD = {"metadata": {"name": "web-1", "namespace": "shop", "uid": "u1",
                    "labels": {"app": "web"}, "resourceVersion": "7"},
       "spec": {"serviceAccountName": "default", "serviceAccount": "default",
                "containers": [{"name": "c", "image": "img"}]}}


def test_the_edge_copy_runs_the_tenant_spec_on_its_node_with_no_tenant_account() -> None:
    copy = edge_pod(POD, "t-abc123-shop", "bj-cpu-0", "tenant-a")
    assert copy["metadata"] == {"name": "web-1", "namespace": "t-abc123-shop",
                                "labels": {"app": "web", FLOOR_LABEL: "tenant-a"}}
    assert copy["spec"]["nodeName"] == "bj-cpu-0"
    assert copy["spec"]["containers"] == POD["spec"]["containers"]
    assert copy["spec"]["serviceAccountName"] == "floor"
    assert "serviceAccount" not in copy["spec"]
    assert copy["spec"]["automountServiceAccountToken"] is False
    assert POD["spec"]["serviceAccountName"] == "default"  # the tenant pod is untouched


def test_the_binding_names_the_virtual_node_and_the_pod_uid() -> None:
    body = binding(POD, "vn-edge-bj-bj-cpu-0")
    assert body["metadata"] == {"name": "web-1", "namespace": "shop", "uid": "u1"}
    assert body["target"] == {"apiVersion": "v1", "kind": "Node", "name": "vn-edge-bj-bj-cpu-0"}


@pytest.mark.parametrize(("status", "patch"), [
    ({"phase": "Running", "podIP": "10.0.0.1", "nominatedNodeName": "x"},
     {"phase": "Running", "podIP": "10.0.0.1"}),
    ({}, {}),
    (None, {}),
])
def test_the_status_patch_carries_the_kubelet_fields(status: Any, patch: Any) -> None:
    assert status_patch({"status": status}) == {"status": patch}


def test_virtual_nodes_cover_every_edge_node_in_a_fixed_order() -> None:
    nodes = virtual_nodes({"edge-sh": ["a"], "edge-bj": ["b", "c"]})
    assert nodes == [("edge-bj", "b", "vn-edge-bj-b"), ("edge-bj", "c", "vn-edge-bj-c"),
                     ("edge-sh", "a", "vn-edge-sh-a")]


def test_a_virtual_node_is_ready_and_its_lease_renewed_at_the_same_instant() -> None:
    now = "2026-12-03T10:00:00.000000Z"
    (cond,) = ready_status(now)["status"]["conditions"]
    assert (cond["type"], cond["status"], cond["lastHeartbeatTime"]) == ("Ready", "True", now)
    lease = node_lease("vn-edge-bj-b", now)
    assert lease["metadata"] == {"name": "vn-edge-bj-b", "namespace": "kube-node-lease"}
    assert lease["spec"]["holderIdentity"] == "vn-edge-bj-b"
    assert lease["spec"]["renewTime"] == now


def namespace(deleting: bool, **conditions: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "shop"}
    if deleting:
        meta["deletionTimestamp"] = "2026-12-03T10:00:00Z"
    return {"metadata": meta, "status": {"conditions": [
        {"type": k, "status": v} for k, v in conditions.items()]}}


@pytest.mark.parametrize(("ns", "finalize"), [
    (namespace(True, NamespaceDeletionDiscoveryFailure="True",
               NamespaceContentRemaining="False"), True),
    (namespace(True, NamespaceDeletionDiscoveryFailure="True",
               NamespaceContentRemaining="True"), False),
    (namespace(True, NamespaceDeletionDiscoveryFailure="True",
               NamespaceFinalizersRemaining="True"), False),
    (namespace(True, NamespaceDeletionDiscoveryFailure="False"), False),
    (namespace(False, NamespaceDeletionDiscoveryFailure="True"), False),
    (namespace(True), False),
])
def test_a_namespace_is_finalized_only_when_discovery_alone_holds_it(
        ns: dict[str, Any], finalize: bool) -> None:
    assert only_discovery_holds(ns) is finalize
