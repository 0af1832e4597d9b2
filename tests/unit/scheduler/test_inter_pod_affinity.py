"""Table tests of InterPodAffinity: required and preferred, both directions, any topology key."""

from typing import Any

import pytest

from scheduler import Placement, Unschedulable

from .factories import (
    HOSTNAME,
    ZONE,
    node,
    place_and_assume,
    placed_node,
    pod,
    preferred,
    required,
    scheduler_with,
    snapshot,
    term,
    zoned_nodes,
)

WEB = {"app": "web"}
DB = {"app": "db"}


def zone_snapshot() -> Any:
    """Zone a: a-0, a-1; zone b: b-0. A db pod runs on a-0."""
    snap = snapshot({"c1": zoned_nodes({"a": 2, "b": 1})})
    snap.upsert_pod("c1", pod("db", labels=DB, node_name="a-0", phase="Running"))
    return snap


def feasible(the_pod: dict[str, Any]) -> set[str] | str:
    """The nodes the pod may go to, or the Unschedulable message."""
    scheduler = scheduler_with(zone_snapshot(), ["interPodAffinity"])
    found: set[str] = set()
    for _ in range(30):  # ties are broken at random: collect every node it picks
        result = scheduler.schedule(the_pod)
        if isinstance(result, Unschedulable):
            return result.message
        assert isinstance(result, Placement)
        found.add(result.node)
    return found


CASES = [
    ("no terms", pod(labels=WEB), {"a-0", "a-1", "b-0"}),
    ("anti by zone", pod(labels=WEB, anti_affinity=required(term(DB, ZONE))), {"b-0"}),
    ("anti by host", pod(labels=WEB, anti_affinity=required(term(DB, HOSTNAME))), {"a-1", "b-0"}),
    ("affinity by zone", pod(labels=WEB, pod_affinity=required(term(DB, ZONE))), {"a-0", "a-1"}),
    ("affinity by host", pod(labels=WEB, pod_affinity=required(term(DB, HOSTNAME))), {"a-0"}),
    ("affinity by edge cluster", pod(labels=WEB, pod_affinity=required(
        term(DB, "fusionvc.io/edge-cluster"))), {"a-0", "a-1", "b-0"}),
    ("affinity to nothing",
     pod(labels=WEB, pod_affinity=required(term({"app": "cache"}, ZONE))),
     "0/3 nodes are available: 3 node(s) didn't match pod affinity rules."),
    ("first of its own group", pod(labels=WEB, pod_affinity=required(term(WEB, ZONE))),
     {"a-0", "a-1", "b-0"}),
    ("other namespace does not count",
     pod(labels=WEB, anti_affinity=required(term(DB, ZONE, namespaces=["other"]))),
     {"a-0", "a-1", "b-0"}),
    ("every namespace", pod(labels=WEB, anti_affinity=required(
        term(DB, ZONE, namespaceSelector={}))), {"b-0"}),
    ("anti everywhere",
     pod(labels=WEB, anti_affinity=required(term(DB, "fusionvc.io/edge-cluster"))),
     "0/3 nodes are available: 3 node(s) didn't match pod anti-affinity rules."),
]  # fmt: skip


@pytest.mark.parametrize(("case", "the_pod", "expected"), CASES, ids=[c[0] for c in CASES])
def test_required_terms(case: str, the_pod: dict[str, Any], expected: object) -> None:
    assert feasible(the_pod) == expected


def test_existing_pods_anti_affinity_keeps_new_pods_out_of_its_domain() -> None:
    snap = snapshot({"c1": zoned_nodes({"a": 2, "b": 1})})
    loner = pod("loner", labels=DB, node_name="a-0", phase="Running",
                anti_affinity=required(term(WEB, ZONE)))  # fmt: skip
    snap.upsert_pod("c1", loner)
    scheduler = scheduler_with(snap, ["interPodAffinity"])
    assert {placed_node(scheduler.schedule(pod(labels=WEB))) for _ in range(20)} == {"b-0"}
    result = scheduler_with(snap, ["interPodAffinity"]).schedule(pod(labels=WEB, node_name="a-1"))
    assert isinstance(result, Unschedulable)
    assert result.reasons == {"node(s) didn't satisfy existing pods anti-affinity rules": 1}


def test_a_burst_of_replicas_respects_anti_affinity_through_assumed_pods() -> None:
    snap = snapshot({"c1": [node(f"n{i}") for i in range(4)]})
    scheduler = scheduler_with(snap, ["interPodAffinity"])
    replica = pod(labels=WEB, anti_affinity=required(term(WEB, HOSTNAME)))
    placed = [place_and_assume(scheduler, {**replica, "metadata": {
        **replica["metadata"], "name": f"web-{i}"}}) for i in range(6)]  # fmt: skip
    nodes = [r.node for r in placed if isinstance(r, Placement)]
    assert sorted(nodes) == ["n0", "n1", "n2", "n3"]
    assert all(isinstance(r, Unschedulable) for r in placed[4:])


def test_tenants_do_not_see_each_others_pods() -> None:
    snap = snapshot({"c1": [node("n0"), node("n1")]})
    snap.upsert_pod("c1", pod("db", labels=DB, node_name="n0", phase="Running"))
    scheduler = scheduler_with(snap, ["interPodAffinity"])
    anti = pod(labels=WEB, anti_affinity=required(term(DB, HOSTNAME)))
    placed = {placed_node(scheduler.schedule(anti, tenant="other")) for _ in range(20)}
    assert placed == {"n0", "n1"}


def test_preferred_terms_score_domains() -> None:
    scheduler = scheduler_with(zone_snapshot(), ["interPodAffinity"])
    near = pod(labels=WEB, pod_affinity=preferred((10, term(DB, HOSTNAME))))
    assert {placed_node(scheduler.schedule(near)) for _ in range(10)} == {"a-0"}
    away = pod(labels=WEB, anti_affinity=preferred((10, term(DB, ZONE))))
    assert {placed_node(scheduler.schedule(away)) for _ in range(10)} == {"b-0"}


def test_malformed_terms_reject_the_pod_up_front() -> None:
    bad = pod(labels=WEB, anti_affinity=required({"labelSelector": {}, "topologyKey": ""}))
    result = scheduler_with(zone_snapshot(), ["interPodAffinity"]).schedule(bad)
    assert isinstance(result, Unschedulable)
    assert "topologyKey: must not be empty" in result.message
