"""The sandbox's GSLB additions: user networks and edge entrances (config/sandbox.yaml)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from sandbox_lib.seed import edge_cluster_object, tenant_object, user_region_objects
from sandbox_lib.topology import TopologyError, load_topology, parse_topology

REPO = Path(__file__).resolve().parents[3]
GOOD: dict[str, Any] = yaml.safe_load((REPO / "config/sandbox.yaml").read_text())


def test_shipped_topology_maps_distinct_loopback_networks_to_regions() -> None:
    topo = load_topology(REPO / "config/sandbox.yaml")
    objects = user_region_objects(topo.user_networks)
    cidrs = [c for o in objects for c in o["spec"]["cidrs"]]
    assert len(cidrs) == len(set(cidrs)) >= 3 and all(c.startswith("127.") for c in cidrs)
    assert {o["spec"]["region"] for o in objects} == set(topo.user_regions)
    for edge in topo.by_role("edge"):
        assert edge_cluster_object(edge)["spec"]["entrance"], edge.name
    for tenant in topo.by_role("tenant"):
        assert tenant_object(tenant)["spec"]["dns"]["zones"], tenant.name


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda d: d["userNetworks"][0].update(region="mars"), "userNetworks[0].region"),
    (lambda d: d["userNetworks"][0].update(cidrs=["10.0.0.0/8"]), "userNetworks[0].cidrs"),
    (lambda d: d["userNetworks"][0].pop("name"), "userNetworks[0].name"),
    (lambda d: d["clusters"][3].update(entrance=[{"address": "10.0.0.1"}]),
     "clusters[3].entrance[0].address"),
    (lambda d: d["clusters"][3].update(entrance=["127.0.0.9"]), "clusters[3].entrance[0]"),
])
def test_bad_gslb_fields_are_named(mutate: Any, message: str) -> None:
    doc = copy.deepcopy(GOOD)
    mutate(doc)
    with pytest.raises(TopologyError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_topology(doc)
