"""Property: no placement ever breaks a required (anti-)affinity or a DoNotSchedule spread
of the tenant's pods, in bursts (every placement assumed before the next decision), with
terms scoped to their own namespace, to every namespace or by a namespaceSelector."""

from collections import Counter
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler import ClusterSnapshot, Placement, Scheduler

from .factories import (
    HOSTNAME,
    ZONE,
    node,
    pod,
    required,
    spread_constraint,
    term,
)

KEYS = (HOSTNAME, ZONE, "fusionvc.io/edge-cluster")
APPS = ("web", "db", "cache")
NAMESPACE_LABELS = {"ns-a": {"team": "x"}, "ns-b": {"team": "y"}}
SCOPES: dict[str, dict[str, Any]] = {
    "own": {},
    "all": {"namespaceSelector": {}},
    "team-x": {"namespaceSelector": {"matchLabels": {"team": "x"}}},
}


def namespace_labels(namespace: str) -> dict[str, str]:
    return {"kubernetes.io/metadata.name": namespace, **NAMESPACE_LABELS.get(namespace, {})}


def covers(t: dict[str, Any], owner_namespace: str, namespace: str) -> bool:
    """Does term t, of a pod in owner_namespace, cover pods of `namespace`?"""
    selector = t.get("namespaceSelector")
    if selector is None:
        return namespace == owner_namespace
    labels = namespace_labels(namespace)
    return all(labels.get(k) == v for k, v in (selector.get("matchLabels") or {}).items())


def namespace_of(p: dict[str, Any]) -> str:
    return str(p["metadata"]["namespace"])


@st.composite
def fleets(draw: st.DrawFn) -> ClusterSnapshot:
    snap = ClusterSnapshot(node_namer=lambda cluster, name: f"vn-{cluster}-{name}")
    for c in range(draw(st.integers(1, 3))):
        cluster = f"c{c}"
        snap.set_cluster(cluster, f"r{c}", True, {})
        for n in range(draw(st.integers(1, 4))):
            zone = f"{cluster}-z{draw(st.integers(0, 2))}"
            snap.upsert_node(cluster, node(f"n{n}", cpu=str(draw(st.integers(1, 4))),
                                           labels={ZONE: zone}))  # fmt: skip
    return snap


@st.composite
def replicas(draw: st.DrawFn, index: int) -> dict[str, Any]:
    app = draw(st.sampled_from(APPS))
    labels = {"app": app}
    kwargs: dict[str, Any] = {}
    rule = draw(st.sampled_from(("none", "anti", "affinity", "spread", "anti+spread")))
    scope = SCOPES[draw(st.sampled_from(sorted(SCOPES)))]
    if "anti" in rule:
        other = draw(st.sampled_from(APPS))
        kwargs["anti_affinity"] = required(
            term({"app": other}, draw(st.sampled_from(KEYS)), **scope))
    if rule == "affinity":
        other = draw(st.sampled_from(APPS))
        kwargs["pod_affinity"] = required(
            term({"app": other}, draw(st.sampled_from(KEYS)), **scope))
    if "spread" in rule:
        kwargs["spread"] = [spread_constraint(draw(st.sampled_from(KEYS)), labels,
                                              draw(st.integers(1, 2)))]  # fmt: skip
    namespace = draw(st.sampled_from(sorted(NAMESPACE_LABELS)))
    return pod(f"p{index}", cpu="500m", labels=labels, namespace=namespace, **kwargs)


def _domain(snap: ClusterSnapshot, placed: Placement, key: str) -> str | None:
    info = snap.node(placed.cluster, placed.node)
    assert info is not None
    return info.facts.labels.get(key)


def matching_at(
    done: list[tuple[dict[str, Any], Placement]], app: str, t: dict[str, Any], owner: str
) -> list[tuple[dict[str, Any], Placement]]:
    """The pods placed so far that term t (of a pod in namespace `owner`) selects."""
    return [
        (p, where)
        for p, where in done
        if p["metadata"]["labels"]["app"] == app and covers(t, owner, namespace_of(p))
    ]


def _check(snap: ClusterSnapshot, done: list[tuple[dict[str, Any], Placement]],
           new: dict[str, Any], at: Placement) -> None:  # fmt: skip
    """The new placement against the pods placed before it."""
    app, namespace = new["metadata"]["labels"]["app"], namespace_of(new)
    affinity = new["spec"].get("affinity") or {}
    for section, want_none in (("podAntiAffinity", True), ("podAffinity", False)):
        for t in (affinity.get(section) or {}).get(
            "requiredDuringSchedulingIgnoredDuringExecution", ()
        ):
            other, key = t["labelSelector"]["matchLabels"]["app"], t["topologyKey"]
            here = _domain(snap, at, key)
            matching = matching_at(done, other, t, namespace)
            near = [p for p, where in matching if _domain(snap, where, key) == here]
            if want_none:
                assert not near, f"{app} placed next to {other} by {key}"
            else:
                first = not matching and other == app and covers(t, namespace, namespace)
                assert near or first, f"{app} not with {other}"
    for pod_, where in done:  # symmetry: earlier pods' anti-affinity
        for t in ((pod_["spec"].get("affinity") or {}).get("podAntiAffinity") or {}).get(
            "requiredDuringSchedulingIgnoredDuringExecution", ()
        ):
            if t["labelSelector"]["matchLabels"]["app"] == app and covers(
                t, namespace_of(pod_), namespace
            ):
                key = t["topologyKey"]
                assert _domain(snap, where, key) != _domain(snap, at, key)
    for constraint in new["spec"].get("topologySpreadConstraints", ()):
        key = constraint["topologyKey"]
        domains = {info.facts.labels[key] for c in snap.clusters.values()
                   for info in c.nodes.values()}  # fmt: skip
        counts = Counter({d: 0 for d in domains})
        for p, where in done:
            if p["metadata"]["labels"]["app"] == app and namespace_of(p) == namespace:
                counts[_domain(snap, where, key) or ""] += 1
        here = _domain(snap, at, key) or ""
        assert counts[here] + 1 - min(counts.values()) <= constraint["maxSkew"]


@settings(max_examples=80, deadline=None)
@given(st.data())
def test_no_placement_breaks_required_rules_in_a_burst(data: st.DataObject) -> None:
    snap = data.draw(fleets())
    scheduler = Scheduler(snap)
    done: list[tuple[dict[str, Any], Placement]] = []
    for index in range(data.draw(st.integers(1, 14))):
        new = data.draw(replicas(index))
        result = scheduler.schedule(new, namespace_labels=namespace_labels)
        if isinstance(result, Placement):
            bound = {**new, "spec": {**new["spec"], "nodeName": result.node}}
            snap.assume(result.cluster, result.node, bound)
            _check(snap, done, new, result)
            done.append((new, result))
