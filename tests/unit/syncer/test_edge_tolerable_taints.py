"""EdgeCluster spec.tolerableTaints: parsed, fed to the scheduler, shown on virtual nodes."""

from __future__ import annotations

from syncer.fleet.conn import EdgeConn
from syncer.fleet.specs import EdgeSpec, parse_edge_spec
from syncer.kinds.nodes import translate_node_up
from syncer.placement import Placer
from tests.builders import edge_node

NOW = "2024-05-01T12:00:00.000000Z"
GPU_TAINT = {"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"}
OTHER_TAINT = {"key": "dedicated", "value": "other", "effect": "NoSchedule"}


def edge(tolerable: frozenset[str] = frozenset()) -> EdgeConn:
    return EdgeConn("edge-1", "edge", client=None,  # type: ignore[arg-type]
                    spec=EdgeSpec(region="r1", tolerable_taints=tolerable))


def test_the_spec_field() -> None:
    assert parse_edge_spec({"tolerableTaints": ["nvidia.com/gpu"]}).tolerable_taints == {
        "nvidia.com/gpu"}
    assert parse_edge_spec({}).tolerable_taints == frozenset()


def test_virtual_nodes_show_the_taints_the_cluster_or_the_tenant_lets_it_tolerate() -> None:
    node = edge_node("n1")
    node["spec"]["taints"] = [GPU_TAINT, OTHER_TAINT]
    shown = translate_node_up(edge(frozenset({"nvidia.com/gpu"})), node, NOW)
    assert shown["spec"]["taints"] == [GPU_TAINT]
    both = translate_node_up(edge(frozenset({"nvidia.com/gpu"})), node, NOW,
                             frozenset({"dedicated"}))
    assert both["spec"]["taints"] == [GPU_TAINT, OTHER_TAINT]
    assert translate_node_up(edge(), node, NOW)["spec"]["taints"] == []


def test_the_placer_hands_the_clusters_list_to_the_scheduler() -> None:
    placer = Placer()
    placer.edge_cluster_changed(edge(frozenset({"nvidia.com/gpu"})))
    assert placer.snapshot.clusters["edge-1"].tolerable_taints == {"nvidia.com/gpu"}
    placer.edge_cluster_changed(edge())
    assert placer.snapshot.clusters["edge-1"].tolerable_taints == frozenset()
