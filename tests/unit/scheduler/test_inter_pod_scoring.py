"""Table tests of InterPodAffinity's score with existing pods' terms (as kube-scheduler's
processExistingPod) and of namespaceSelector in inter-pod terms, both directions."""

from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from scheduler import Placement, Unschedulable
from scheduler.framework import SKIP, CycleState
from scheduler.plugins import InterPodAffinity
from scheduler.podaffinity import NamespaceLabels, name_label_only, tenant_pod
from scheduler.podinfo import PodInfo
from scheduler.policy import DEFAULT_POLICY

from .factories import (
    HOSTNAME,
    ZONE,
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
NODES = ("a-0", "a-1", "b-0", "c-0")


def labelled(namespaces: Mapping[str, Mapping[str, str]]) -> NamespaceLabels:
    """A namespace label lookup: the given labels plus the name label of every namespace."""
    return lambda ns: {"kubernetes.io/metadata.name": ns, **namespaces.get(ns, {})}


def existing(name: str, node: str, namespace: str = "default", **terms: Any) -> Any:
    """A running db pod on `node`, with the given inter-pod terms."""
    return pod(name, labels=DB, node_name=node, phase="Running", namespace=namespace, **terms)


def scores(
    pods: Sequence[dict[str, Any]],
    new: dict[str, Any],
    tenant: str = "",
    namespace_labels: NamespaceLabels = name_label_only,
) -> dict[str, int] | None:
    """InterPodAffinity's normalized score of each node for `new`; None when it skips."""
    snap = snapshot({"c1": zoned_nodes({"a": 2, "b": 1, "c": 1})})
    for item in pods:
        snap.upsert_pod("c1", item)
    plugin = InterPodAffinity()
    state = CycleState(snap, DEFAULT_POLICY, tenant, namespace_labels)
    info = PodInfo.from_pod(new)
    plugin.pre_filter(state, info)
    nodes = [n for g in snap.node_groups() for s in g.shapes.values() for n in s.nodes]
    if plugin.pre_score(state, info, nodes) is SKIP:
        return None
    raw = plugin.score(state, info, nodes)
    plugin.normalize_score(state, info, raw)
    return {n.facts.name: score for n, score in zip(nodes, raw, strict=True)}


def by_node(a0: int, a1: int, b0: int, c0: int) -> dict[str, int]:
    return dict(zip(NODES, (a0, a1, b0, c0), strict=True))


SCORE_CASES = [
    ("existing preferred affinity pulls the pod to its zone",
     [existing("db", "a-0", pod_affinity=preferred((10, term(WEB, ZONE))))],
     pod(labels=WEB), {}, by_node(100, 100, 0, 0)),
    ("existing preferred anti-affinity pushes the pod out of its zone",
     [existing("db", "a-0", anti_affinity=preferred((10, term(WEB, ZONE))))],
     pod(labels=WEB), {}, by_node(0, 0, 100, 100)),
    ("existing required affinity weighs hardPodAffinityWeight on its host",
     [existing("db", "a-0", pod_affinity=required(term(WEB, HOSTNAME)))],
     pod(labels=WEB), {}, by_node(100, 0, 0, 0)),
    ("weights of several existing pods add up per domain",
     [existing("db", "a-0", pod_affinity=preferred((10, term(WEB, ZONE)))),
      existing("db2", "b-0", anti_affinity=preferred((5, term(WEB, ZONE))))],
     pod(labels=WEB), {}, by_node(100, 100, 0, 33)),
    ("the pod's own terms and existing pods' terms add up",
     [existing("db", "a-0", pod_affinity=preferred((30, term(WEB, ZONE))))],
     pod(labels=WEB, anti_affinity=preferred((10, term(DB, ZONE)))), {},
     by_node(100, 100, 0, 0)),
    ("an existing term that does not select the pod is left out",
     [existing("db", "a-0", pod_affinity=preferred((10, term({"app": "cache"}, ZONE))))],
     pod(labels=WEB), {}, None),
    ("an existing term covers its own namespace only by default",
     [existing("db", "a-0", namespace="data", pod_affinity=preferred((10, term(WEB, ZONE))))],
     pod(labels=WEB), {}, None),
    ("an existing term's namespaceSelector matches the pod's namespace labels",
     [existing("db", "a-0", namespace="data", pod_affinity=preferred(
         (10, term(WEB, ZONE, namespaceSelector={"matchLabels": {"team": "web"}}))))],
     pod(labels=WEB), {"default": {"team": "web"}}, by_node(100, 100, 0, 0)),
    ("an existing term's namespaceSelector that does not match",
     [existing("db", "a-0", namespace="data", pod_affinity=preferred(
         (10, term(WEB, ZONE, namespaceSelector={"matchLabels": {"team": "web"}}))))],
     pod(labels=WEB), {"default": {"team": "shop"}}, None),
    ("an existing term with namespaceSelector {} covers every namespace of the tenant",
     [existing("db", "a-0", namespace="data", anti_affinity=preferred(
         (10, term(WEB, HOSTNAME, namespaceSelector={}))))],
     pod(labels=WEB), {}, by_node(0, 100, 100, 100)),
]  # fmt: skip


@pytest.mark.parametrize(
    ("case", "pods", "new", "namespaces", "expected"), SCORE_CASES, ids=[c[0] for c in SCORE_CASES]
)
def test_existing_pods_terms_in_the_score(
    case: str,
    pods: list[dict[str, Any]],
    new: dict[str, Any],
    namespaces: Mapping[str, Mapping[str, str]],
    expected: dict[str, int] | None,
) -> None:
    assert scores(pods, new, namespace_labels=labelled(namespaces)) == expected


def test_another_tenants_pods_terms_do_not_weigh() -> None:
    pods = [existing("db", "a-0", pod_affinity=preferred((10, term(WEB, ZONE))))]
    assert scores(pods, pod(labels=WEB), tenant="tenant-b") is None


def test_existing_terms_steer_the_placement() -> None:
    snap = snapshot({"c1": zoned_nodes({"a": 1, "b": 1})})
    snap.upsert_pod("c1", existing("db", "b-0", pod_affinity=preferred((50, term(WEB, ZONE)))))
    scheduler = scheduler_with(snap, ["interPodAffinity"])
    placed = {scheduler.schedule(pod(labels=WEB)) for _ in range(10)}
    assert {p.node for p in placed if isinstance(p, Placement)} == {"b-0"}


def test_tenant_pod_keeps_the_terms_that_weigh_on_others() -> None:
    view = tenant_pod("t", "shop", WEB, affinity={
        "podAffinity": {**required(term(DB, ZONE)), **preferred((7, term(DB, HOSTNAME)))},
        "podAntiAffinity": preferred((3, term(DB, ZONE)), (0, term(DB, ZONE))),
    })  # fmt: skip
    assert [(t.topology_key, w) for t, w in view.scoring] == [
        (ZONE, 1), (HOSTNAME, 7), (ZONE, -3)]  # fmt: skip
    broken = tenant_pod("t", "shop", WEB, affinity={"podAffinity": required({"topologyKey": ""})})
    assert broken.scoring == ()


def feasible(
    pods: Sequence[dict[str, Any]],
    new: dict[str, Any],
    namespaces: Mapping[str, Mapping[str, str]],
) -> set[str] | str:
    snap = snapshot({"c1": zoned_nodes({"a": 2, "b": 1, "c": 1})})
    for item in pods:
        snap.upsert_pod("c1", item)
    scheduler = scheduler_with(snap, ["interPodAffinity"])
    found: set[str] = set()
    for _ in range(30):
        result = scheduler.schedule(new, namespace_labels=labelled(namespaces))
        if isinstance(result, Unschedulable):
            return result.message
        assert isinstance(result, Placement)
        found.add(result.node)
    return found


DATA = {"data": {"team": "db", "tier": "gold"}, "cache": {"team": "cache"}}
DB_IN_DATA = existing("db", "a-0", namespace="data")


def anti_by_zone(**extra: Any) -> dict[str, Any]:
    return pod(labels=WEB, anti_affinity=required(term(DB, ZONE, **extra)))


NAMESPACE_CASES = [
    ("own namespace only by default", [DB_IN_DATA], anti_by_zone(), DATA, set(NODES)),
    ("matchLabels on namespace labels", [DB_IN_DATA],
     anti_by_zone(namespaceSelector={"matchLabels": {"team": "db"}}), DATA, {"b-0", "c-0"}),
    ("matchLabels that the namespace lacks", [DB_IN_DATA],
     anti_by_zone(namespaceSelector={"matchLabels": {"team": "cache"}}), DATA, set(NODES)),
    ("matchExpressions In", [DB_IN_DATA], anti_by_zone(namespaceSelector={"matchExpressions": [
        {"key": "tier", "operator": "In", "values": ["gold", "silver"]}]}), DATA, {"b-0", "c-0"}),
    ("matchExpressions NotIn", [DB_IN_DATA], anti_by_zone(namespaceSelector={"matchExpressions": [
        {"key": "tier", "operator": "NotIn", "values": ["gold"]}]}), DATA, set(NODES)),
    ("matchExpressions DoesNotExist matches an unlabelled namespace",
     [existing("db", "b-0", namespace="plain")],
     anti_by_zone(namespaceSelector={"matchExpressions": [
         {"key": "team", "operator": "DoesNotExist"}]}), DATA, {"a-0", "a-1", "c-0"}),
    ("the name label pins a namespace", [DB_IN_DATA], anti_by_zone(namespaceSelector={
        "matchLabels": {"kubernetes.io/metadata.name": "data"}}), {}, {"b-0", "c-0"}),
    ("namespaces and namespaceSelector are ORed",
     [DB_IN_DATA, existing("db2", "b-0", namespace="cache")],
     anti_by_zone(namespaces=["cache"], namespaceSelector={"matchLabels": {"team": "db"}}),
     DATA, {"c-0"}),
    ("a namespace that is gone has no labels", [DB_IN_DATA],
     anti_by_zone(namespaceSelector={"matchLabels": {"team": "db"}}), {}, set(NODES)),
    ("an existing pod's selector matches the new pod's namespace labels",
     [existing("db", "a-0", namespace="data", anti_affinity=required(
         term(WEB, ZONE, namespaceSelector={"matchLabels": {"team": "web"}})))],
     pod(labels=WEB), {"default": {"team": "web"}}, {"b-0", "c-0"}),
    ("an existing pod's selector the new pod's namespace does not match",
     [existing("db", "a-0", namespace="data", anti_affinity=required(
         term(WEB, ZONE, namespaceSelector={"matchLabels": {"team": "web"}})))],
     pod(labels=WEB), {}, set(NODES)),
    ("affinity through a namespaceSelector", [DB_IN_DATA], pod(labels=WEB, pod_affinity=required(
        term(DB, ZONE, namespaceSelector={"matchLabels": {"team": "db"}}))), DATA, {"a-0", "a-1"}),
]  # fmt: skip


@pytest.mark.parametrize(
    ("case", "pods", "new", "namespaces", "expected"),
    NAMESPACE_CASES,
    ids=[c[0] for c in NAMESPACE_CASES],
)
def test_namespace_selectors(
    case: str,
    pods: list[dict[str, Any]],
    new: dict[str, Any],
    namespaces: Mapping[str, Mapping[str, str]],
    expected: set[str] | str,
) -> None:
    assert feasible(pods, new, namespaces) == expected


def test_a_malformed_namespace_selector_rejects_the_pod() -> None:
    bad = anti_by_zone(namespaceSelector={"matchExpressions": [{"key": "x", "operator": "Gt"}]})
    result = feasible([], bad, {})
    assert isinstance(result, str) and "namespaceSelector" in result


def test_the_index_of_pods_with_scoring_terms_follows_removals() -> None:
    snap = snapshot({"c1": zoned_nodes({"a": 1})})
    snap.upsert_pod("c1", existing("db", "a-0", pod_affinity=preferred((10, term(WEB, ZONE)))))
    snap.upsert_pod("c1", existing("db2", "a-0", pod_affinity=preferred((10, term(WEB, ZONE)))))
    assert snap.tenant_pods.has_scoring_terms("")
    snap.remove_pod("c1", "default", "db")
    assert snap.tenant_pods.has_scoring_terms("")
    snap.remove_pod("c1", "default", "db2")
    assert not snap.tenant_pods.has_scoring_terms("")
    assert not snap.tenant_pods.has_scoring_terms("other")
