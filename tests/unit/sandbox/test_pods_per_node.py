"""`hack/sandbox up --pods-per-node N`: a sandbox for benchmarks at scale, the default unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest
from sandbox_lib.seed import edge_node
from sandbox_lib.topology import TopologyError, load_topology, with_pods_per_node

REPO = Path(__file__).resolve().parents[3]


def test_every_edge_node_gets_the_capacity_and_nothing_else_changes() -> None:
    shipped = load_topology(REPO / "config/sandbox.yaml")
    big = with_pods_per_node(shipped, 550)
    groups = [g for c in big.clusters for g in c.nodes]
    assert groups and all(g.pods == 550 for g in groups)
    # A pod that selects no arch runs on amd64 only: those nodes must hold 10,000.
    assert sum(g.count * g.pods for g in groups if g.arch == "amd64") >= 10_000
    edge = next(c for c in big.clusters if c.nodes)
    node = edge_node(edge, edge.nodes[0], f"{edge.nodes[0].name}-0")
    assert node["status"]["capacity"]["pods"] == "550"
    assert [c.name for c in big.clusters] == [c.name for c in shipped.clusters]
    assert max(g.pods for c in shipped.clusters for g in c.nodes) == 250  # default untouched


@pytest.mark.parametrize("pods", [0, 5001])
def test_out_of_range_is_refused_with_the_flag_name(pods: int) -> None:
    with pytest.raises(TopologyError, match="--pods-per-node"):
        with_pods_per_node(load_topology(REPO / "config/sandbox.yaml"), pods)
