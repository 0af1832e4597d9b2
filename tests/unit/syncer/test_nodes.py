"""Virtual node translation (syncer/kinds/nodes.py)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from syncer.core import markers
from syncer.core.names import virtual_node_name
from syncer.fleet.conn import EdgeConn
from syncer.fleet.specs import EdgeSpec
from syncer.kinds.nodes import translate_node_up

Obj = dict[str, Any]
NOW = "2024-05-01T12:00:00.000000Z"


def edge(region: str = "eu-west") -> EdgeConn:
    return EdgeConn("edge-1", "edge", client=None,  # type: ignore[arg-type]
                    spec=EdgeSpec(region=region))


def edge_node(**labels: str) -> Obj:
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": "gpu-node-3", "uid": "edge-node-uid",
                     "labels": {"kubernetes.io/arch": "amd64", "kubernetes.io/os": "linux",
                                "kubernetes.io/hostname": "gpu-node-3",
                                "node-role.kubernetes.io/worker": "",
                                "nvidia.com/gpu.product": "NVIDIA-A10",
                                "nvidia.com/gpu.count": "2",
                                "internal.example.com/rack": "r12", **labels},
                     "annotations": {"fusionvc.io/price-per-hour": "1.25",
                                     "node.alpha.kubernetes.io/ttl": "0"}},
        "spec": {"podCIDR": "10.244.3.0/24", "providerID": "kwok://gpu-node-3",
                 "taints": [{"key": "nvidia.com/gpu", "effect": "NoSchedule"},
                            {"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"}]},
        "status": {
            "capacity": {"cpu": "32", "memory": "128Gi", "nvidia.com/gpu": "2"},
            "allocatable": {"cpu": "31", "memory": "120Gi", "nvidia.com/gpu": "2"},
            "conditions": [
                {"type": "Ready", "status": "True", "lastHeartbeatTime": "old",
                 "lastTransitionTime": "t0", "reason": "KubeletReady"},
                {"type": "MemoryPressure", "status": "False", "lastHeartbeatTime": "old"},
                {"type": "NetworkUnavailable", "status": "False"},
            ],
            "addresses": [{"type": "InternalIP", "address": "192.168.44.3"},
                          {"type": "Hostname", "address": "gpu-node-3"}],
            "nodeInfo": {"architecture": "amd64", "kubeletVersion": "v1.31.0"},
        },
    }


def test_name_labels_and_annotations() -> None:
    out = translate_node_up(edge(), edge_node(), NOW)
    name = virtual_node_name("edge-1", "gpu-node-3")
    assert out["metadata"]["name"] == name
    assert out["metadata"]["labels"] == {
        "kubernetes.io/arch": "amd64", "kubernetes.io/os": "linux",
        "nvidia.com/gpu.product": "NVIDIA-A10", "nvidia.com/gpu.count": "2",
        "topology.kubernetes.io/region": "eu-west",  # defaulted from the edge cluster
        "kubernetes.io/hostname": name, "type": "virtual-node",
        markers.MANAGED_BY: "fusionvc", markers.EDGE_CLUSTER: "edge-1"}
    assert out["metadata"]["annotations"] == {
        markers.EDGE_CLUSTER: "edge-1", markers.EDGE_NODE: "gpu-node-3",
        "fusionvc.io/price-per-hour": "1.25"}


@pytest.mark.parametrize(
    ("node_labels", "region", "expected"),
    [
        ({}, "eu-west", "eu-west"),
        ({"topology.kubernetes.io/region": "eu-west-2"}, "eu-west", "eu-west-2"),
        ({"topology.kubernetes.io/zone": "eu-west-2b"}, "ap-south", "ap-south"),
    ],
)
def test_region_label(node_labels: dict[str, str], region: str, expected: str) -> None:
    out = translate_node_up(edge(region), edge_node(**node_labels), NOW)
    assert out["metadata"]["labels"]["topology.kubernetes.io/region"] == expected


def test_zone_and_instance_type_copied() -> None:
    out = translate_node_up(edge(), edge_node(**{
        "topology.kubernetes.io/zone": "eu-west-1a",
        "node.kubernetes.io/instance-type": "g5.xlarge"}), NOW)
    labels = out["metadata"]["labels"]
    assert labels["topology.kubernetes.io/zone"] == "eu-west-1a"
    assert labels["node.kubernetes.io/instance-type"] == "g5.xlarge"


def test_heartbeat_and_conditions() -> None:
    out = translate_node_up(edge(), edge_node(), NOW)
    assert out["status"]["conditions"] == [
        {"type": "Ready", "status": "True", "lastHeartbeatTime": NOW,
         "lastTransitionTime": "t0", "reason": "KubeletReady"},
        {"type": "MemoryPressure", "status": "False", "lastHeartbeatTime": NOW},
    ]


def test_status_and_spec() -> None:
    node = edge_node()
    out = translate_node_up(edge(), node, NOW, frozenset({"nvidia.com/gpu"}))
    assert out["status"]["capacity"] == node["status"]["capacity"]
    assert out["status"]["allocatable"] == node["status"]["allocatable"]
    assert out["status"]["addresses"] == [{"type": "Hostname",
                                           "address": out["metadata"]["name"]}]
    assert out["spec"] == {"taints": [{"key": "nvidia.com/gpu", "effect": "NoSchedule"}],
                           "unschedulable": False}


def test_edge_addresses_never_leak() -> None:
    text = json.dumps(translate_node_up(edge(), edge_node(), NOW))
    for secret in ("192.168.44.3", "10.244.3.0", "kwok://", "internal.example.com",
                   "edge-node-uid", "node-role.kubernetes.io"):
        assert secret not in text


def test_unschedulable_and_missing_parts() -> None:
    node = {"metadata": {"name": "n"}, "spec": {"unschedulable": True}}
    out = translate_node_up(edge(""), node, NOW)
    assert out["spec"] == {"taints": [], "unschedulable": True}
    assert out["status"]["conditions"] == []
    assert out["metadata"]["annotations"]["fusionvc.io/price-per-hour"] == ""


def test_input_not_mutated() -> None:
    node = edge_node()
    before = copy.deepcopy(node)
    translate_node_up(edge(), node, NOW)
    assert node == before


def test_the_virtual_node_shows_only_the_taints_the_tenant_may_tolerate() -> None:
    node = edge_node()
    node["spec"]["taints"] = [{"key": "nvidia.com/gpu", "effect": "NoSchedule"},
                              {"key": "dedicated", "value": "other", "effect": "NoSchedule"},
                              {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}]
    assert translate_node_up(edge(), node, NOW)["spec"]["taints"] == []
    shown = translate_node_up(edge(), node, NOW, frozenset({"nvidia.com/gpu"}))
    assert shown["spec"]["taints"] == [{"key": "nvidia.com/gpu", "effect": "NoSchedule"}]


@pytest.mark.parametrize(("kubelet", "addresses", "endpoints"), [
    (None, [{"type": "Hostname", "address": "vn-edge-1-gpu-node-3"}], {}),
    (("10.0.0.7", 10250), [{"type": "InternalIP", "address": "10.0.0.7"},
                           {"type": "Hostname", "address": "vn-edge-1-gpu-node-3"}],
     {"kubeletEndpoint": {"Port": 10250}}),
])
def test_kubelet_endpoint_address(kubelet: tuple[str, int] | None, addresses: list[Obj],
                                  endpoints: Obj) -> None:
    """Virtual nodes lead to fusionvc's kubelet endpoint, never to the edge node's address."""
    out = translate_node_up(edge(), edge_node(), NOW, kubelet=kubelet)
    assert out["status"]["addresses"] == addresses
    assert out["status"]["daemonEndpoints"] == endpoints
