"""ImageIndex: the nodes per image follow every node change, and ImageLocality's cached score
tables are rebuilt exactly when something they depend on changed (a node gains or loses one
of their images or dataset copies, nodes come or go or move zone or region), and kept
otherwise: the scores always equal those of a snapshot built afresh."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest

from scheduler import ClusterSnapshot
from scheduler.datasets import DATASETS_ANNOTATION, dataset_image
from scheduler.framework import SKIP, CycleState
from scheduler.plugins.image_locality import MB, ImageLocality
from scheduler.podinfo import PodInfo
from scheduler.policy import DEFAULT_POLICY

from .factories import ZONE, node, snapshot

GB = 1024 * MB
MODEL = "registry.local/llm/qwen2-7b:1"
OTHER = "registry.local/llm/llama-8b:1"
DATASET = dataset_image("tenant-a", "shop", "weights")


def edge_node(name: str, zone: str = "z1", *images: tuple[str, int],
              **labels: str) -> dict[str, Any]:
    out = node(name, labels={ZONE: zone, **labels} if zone else dict(labels))
    out["status"]["images"] = [{"names": [image], "sizeBytes": size} for image, size in images]
    return out


def image_pod(*images: str, datasets: str = "") -> dict[str, Any]:
    containers = [{"name": f"c{i}", "image": image} for i, image in enumerate(images)]
    metadata: dict[str, Any] = {"name": "infer", "namespace": "shop"}
    if datasets:
        metadata["annotations"] = {DATASETS_ANNOTATION: datasets}
    return {"metadata": metadata, "spec": {"containers": containers}}


def scores(snap: ClusterSnapshot, the_pod: dict[str, Any]) -> dict[tuple[str, str], int]:
    """ImageLocality's score of every node of the snapshot, by (cluster, node)."""
    nodes = [info for cluster in snap.clusters.values() for info in cluster.nodes.values()]
    keys = [(info.cluster.name, info.facts.name) for info in nodes]
    state = CycleState(snap, DEFAULT_POLICY, "tenant-a")
    info = PodInfo.from_pod(the_pod)
    plugin = ImageLocality()
    if plugin.pre_score(state, info, nodes) is SKIP:
        return dict.fromkeys(keys, 0)
    return dict(zip(keys, plugin.score(state, info, nodes), strict=True))


def afresh(snap: ClusterSnapshot) -> ClusterSnapshot:
    """The same clusters and nodes in a new snapshot (nothing cached)."""
    fresh = ClusterSnapshot()
    for cluster in snap.clusters.values():
        fresh.set_cluster(cluster.name, cluster.region, cluster.healthy, cluster.latency_ms)
        for info in cluster.nodes.values():
            fresh.upsert_node(cluster.name, info.node)
    return fresh


def fleet() -> ClusterSnapshot:
    return snapshot({
        "c1": [edge_node("has", "z1", (MODEL, 8 * GB), (DATASET, 2 * GB)),
               edge_node("zone", "z1"), edge_node("other-zone", "z2", (OTHER, 4 * GB))],
        "c2": [edge_node("same-region", "z1")],
        "c3": [edge_node("far", "z1", (OTHER, 4 * GB)), edge_node("far-2", "")],
    }, regions={"c1": "r1", "c2": "r1", "c3": "r2"})


def relabel(snap: ClusterSnapshot, cluster: str, name: str,
            change: Callable[[dict[str, Any]], None]) -> None:
    info = snap.node(cluster, name)
    assert info is not None
    updated = {**info.node, "metadata": {**info.node["metadata"]},
               "status": {**info.node["status"]}}
    updated["metadata"]["labels"] = dict(updated["metadata"]["labels"])
    change(updated)
    snap.upsert_node(cluster, updated)


def set_images(*images: tuple[str, int]) -> Callable[[dict[str, Any]], None]:
    def change(out: dict[str, Any]) -> None:
        out["status"]["images"] = [{"names": [i], "sizeBytes": s} for i, s in images]
    return change


def set_label(key: str, value: str) -> Callable[[dict[str, Any]], None]:
    def change(out: dict[str, Any]) -> None:
        out["metadata"]["labels"][key] = value
    return change


def not_ready(out: dict[str, Any]) -> None:
    out["status"]["conditions"] = [{"type": "Ready", "status": "False"}]


ALL = frozenset({"*"})  # the structure changed: every table depends on it
NONE: frozenset[str] = frozenset()
# (what happens, the change, the images whose tables it may change)
CHANGES: list[tuple[str, Callable[[ClusterSnapshot], None], frozenset[str]]] = [
    ("a heartbeat (same facts)", lambda s: relabel(s, "c1", "zone", lambda n: None), NONE),
    ("a label of a holder changes", lambda s: relabel(s, "c1", "has", set_label("a", "b")), NONE),
    ("a node goes not ready", lambda s: relabel(s, "c1", "zone", not_ready), NONE),
    ("another image arrives", lambda s: relabel(s, "c2", "same-region",
                                                 set_images(("web:1", GB))), NONE),
    ("a node gains the image", lambda s: relabel(s, "c3", "far", set_images(
        (OTHER, 4 * GB), (MODEL, 8 * GB))), frozenset({MODEL})),
    ("the holder loses everything", lambda s: relabel(s, "c1", "has", set_images()),
     frozenset({MODEL, DATASET})),
    ("the holder reports another size", lambda s: relabel(s, "c1", "has", set_images(
        (MODEL, 6 * GB), (DATASET, 2 * GB))), frozenset({MODEL})),
    ("a dataset copy becomes ready", lambda s: relabel(s, "c1", "zone", set_images(
        (DATASET, 2 * GB))), frozenset({DATASET})),
    ("a dataset copy goes", lambda s: relabel(s, "c1", "has", set_images((MODEL, 8 * GB))),
     frozenset({DATASET})),
    ("a node is added", lambda s: s.upsert_node("c2", edge_node("new", "z1")), ALL),
    ("a node is removed", lambda s: s.remove_node("c2", "same-region"), ALL),
    ("a node moves zone", lambda s: relabel(s, "c1", "zone", set_label(ZONE, "z2")), ALL),
    ("a cluster moves region", lambda s: s.set_cluster("c3", "r1", True, {}), ALL),
    ("a cluster goes", lambda s: s.remove_cluster("c3"), ALL),
]
PODS = {"one": (image_pod(MODEL), {MODEL}), "two": (image_pod(MODEL, OTHER), {MODEL, OTHER}),
        "dataset": (image_pod(datasets="weights"), {DATASET})}


@pytest.mark.parametrize(("change", "touches"), [(c, t) for _, c, t in CHANGES],
                         ids=[name for name, _, _ in CHANGES])
@pytest.mark.parametrize("pod_name", list(PODS))
def test_a_table_is_rebuilt_only_when_it_may_have_changed(
        change: Callable[[ClusterSnapshot], None], touches: frozenset[str], pod_name: str) -> None:
    the_pod, images = PODS[pod_name]
    snap = fleet()
    before = scores(snap, the_pod)
    assert before == scores(afresh(snap), the_pod) and max(before.values()) > 0
    builds = snap.images.builds
    assert scores(snap, the_pod) == before and snap.images.builds == builds  # cached
    change(snap)
    after = scores(snap, the_pod)
    assert after == scores(afresh(snap), the_pod)
    held = not images.isdisjoint(snap.images.holders)  # else skipped: no table at all
    rebuilt = held and (touches is ALL or not touches.isdisjoint(images))
    assert snap.images.builds == builds + rebuilt


def indexed(snap: ClusterSnapshot) -> tuple[dict[str, dict[str, int]], dict[Any, set[str]]]:
    """The index's holders and the nodes of each zone slot, by node name."""
    holders = {image: {info.facts.name: size for info, size in nodes.items()}
               for image, nodes in snap.images.holders.items()}
    nodes = [info for cluster in snap.clusters.values() for info in cluster.nodes.values()]
    assert len({info.index_id for info in nodes}) == len(nodes)  # a number of its own
    zones: dict[Any, set[str]] = {}
    for info in nodes:
        key = (info.cluster.name, info.facts.zone or "")
        slot = snap.images.node_slots[info.index_id]
        assert slot == snap.images.zone_slot(key)
        assert slot in snap.images.cluster_slots(info.cluster.name)
        zones.setdefault(key, set()).add(info.facts.name)
    return holders, zones


def expected(snap: ClusterSnapshot) -> tuple[dict[str, dict[str, int]], dict[Any, set[str]]]:
    holders: dict[str, dict[str, int]] = {}
    zones: dict[Any, set[str]] = {}
    for cluster in snap.clusters.values():
        for info in cluster.nodes.values():
            for image, size in info.facts.images.items():
                holders.setdefault(image, {})[info.facts.name] = size
            zones.setdefault((cluster.name, info.facts.zone or ""), set()).add(info.facts.name)
    return holders, zones


@pytest.mark.parametrize("change", [c for _, c, _ in CHANGES], ids=[n for n, _, _ in CHANGES])
def test_the_index_follows_each_change(change: Callable[[ClusterSnapshot], None]) -> None:
    snap = fleet()
    assert indexed(snap) == expected(snap)
    change(snap)
    assert indexed(snap) == expected(snap)
    holders = snap.images.holders
    assert all(nodes for nodes in holders.values())  # no image without a holder is kept


def test_the_dataset_copy_is_indexed_under_the_tenants_name() -> None:
    snap = fleet()
    assert {i.facts.name for i in snap.images.holders[DATASET]} == {"has"}
    relabel(snap, "c1", "has", set_images((MODEL, 8 * GB)))
    assert DATASET not in snap.images.holders
    # Another tenant's pod naming a dataset of the same name finds none.
    state = CycleState(snap, DEFAULT_POLICY, "tenant-b")
    info = PodInfo.from_pod(image_pod(datasets="weights"))
    assert ImageLocality().pre_score(state, info, []) is SKIP


def test_the_oldest_table_goes_beyond_the_limit() -> None:
    snap = fleet()
    snap.images.max_tables = 2
    for images in ((MODEL,), (OTHER,), (MODEL, OTHER)):
        scores(snap, image_pod(*images))
    assert snap.images.builds == 3
    scores(snap, image_pod(OTHER))  # still kept
    assert snap.images.builds == 3
    scores(snap, image_pod(MODEL))  # was dropped: built again
    assert snap.images.builds == 4


@pytest.mark.parametrize("seed", range(12))
def test_random_changes_keep_cached_scores_equal_to_fresh_ones(seed: int) -> None:
    rng = random.Random(seed)
    snap = fleet()
    pods = [image_pod(MODEL), image_pod(OTHER, MODEL), image_pod(datasets="weights"),
            image_pod("web:1")]
    for step in range(40):
        name, change, _ = rng.choice(CHANGES[:9])
        if rng.random() < 0.3:
            cluster = rng.choice(["c1", "c2"])
            snap.upsert_node(cluster, edge_node(f"n{step}", rng.choice(["z1", "z2", ""]),
                                                *rng.sample([(MODEL, 8 * GB), (OTHER, GB),
                                                             (DATASET, GB)], rng.randint(0, 2))))
        elif rng.random() < 0.1 and len(snap.clusters["c1"].nodes) > 1:
            snap.remove_node("c1", rng.choice(list(snap.clusters["c1"].nodes)))
        elif all(snap.node(c, n) for c, n in (("c1", "has"), ("c1", "zone"), ("c3", "far"),
                                               ("c2", "same-region"))):
            change(snap)
        the_pod = rng.choice(pods)
        assert scores(snap, the_pod) == scores(afresh(snap), the_pod), (step, name)
        assert indexed(snap) == expected(snap)
