"""ImageLocality: image size times the share of nodes that have it, clamped and scaled;
image names normalised as kubelets report them; every mode weighs it."""

from __future__ import annotations

from typing import Any

import pytest

from scheduler.framework import CycleState
from scheduler.images import node_images, normalize_image, pod_images
from scheduler.plugins.image_locality import (
    MAX_IMAGE_THRESHOLD,
    MB,
    MIN_THRESHOLD,
    REGION_SHARE,
    ZONE_SHARE,
    ImageLocality,
    image_score,
    priority,
)
from scheduler.podinfo import PodInfo
from scheduler.policy import DEFAULT_POLICY, MODE_PRESETS

from .factories import node, placed_node, pod, schedule_one, snapshot

GB = 1024 * MB
MODEL = "registry.local/llm/qwen2-7b:1"


def with_images(name: str, *images: tuple[str, int]) -> dict[str, Any]:
    out = node(name)
    out["status"]["images"] = [{"names": [image], "sizeBytes": size} for image, size in images]
    return out


def image_pod(*images: str) -> dict[str, Any]:
    out = pod("infer")
    out["spec"]["containers"] = [{"name": f"c{i}", "image": image,
                                  "resources": {"requests": {"cpu": "100m"}}}
                                 for i, image in enumerate(images)]
    return out


@pytest.mark.parametrize(("ref", "normal"), [
    ("nginx", "docker.io/library/nginx:latest"),
    ("library/nginx:1.27", "docker.io/library/nginx:1.27"),
    ("docker.io/library/nginx:1.27", "docker.io/library/nginx:1.27"),
    ("index.docker.io/team/app", "docker.io/team/app:latest"),
    ("registry.local:5000/llm/qwen", "registry.local:5000/llm/qwen:latest"),
    ("localhost/app:2", "localhost/app:2"),
    ("registry.local/app@sha256:abc", "registry.local/app@sha256:abc"),
])
def test_image_names_are_normalised(ref: str, normal: str) -> None:
    assert normalize_image(ref) == normal


def test_node_and_pod_images() -> None:
    status = {"images": [{"names": ["docker.io/library/nginx:1.27",
                                    "docker.io/library/nginx@sha256:abc"], "sizeBytes": 70},
                         {"names": ["bad"], "sizeBytes": "x"}]}
    assert node_images(status) == {"docker.io/library/nginx:1.27": 70,
                                   "docker.io/library/nginx@sha256:abc": 70,
                                   "docker.io/library/bad:latest": 0}
    spec = {"initContainers": [{"image": "nginx:1.27"}],
            "containers": [{"image": "library/nginx:1.27"}, {"image": MODEL}]}
    assert pod_images(spec) == ("docker.io/library/nginx:1.27", f"{MODEL}")


@pytest.mark.parametrize(("total", "images", "expected"), [
    (0, 1, 0),
    (MIN_THRESHOLD, 1, 0),
    (MAX_IMAGE_THRESHOLD, 1, 100),
    (50 * MAX_IMAGE_THRESHOLD, 1, 100),
    (MAX_IMAGE_THRESHOLD, 2, 49),
    ((MIN_THRESHOLD + MAX_IMAGE_THRESHOLD) / 2, 1, 50),
])
def test_priority_clamps_and_scales(total: float, images: int, expected: int) -> None:
    assert priority(total, images) == expected


def test_a_multi_gb_model_is_not_flattened_by_kubes_1000_mb_ceiling() -> None:
    # On every node: a 7 GB and a 3 GB image rank apart (kube's ceiling would give both 100).
    assert priority(image_score(7 * GB, 10, 10), 1) > priority(image_score(3 * GB, 10, 10), 1) > 0
    # The share of nodes matters: present on 1 of 10 nodes weighs a tenth.
    assert image_score(7 * GB, 1, 10) == pytest.approx(0.7 * GB)


def test_scores_per_node_and_skip_when_no_node_has_the_image() -> None:
    snap = snapshot({"c1": [with_images("n1", (MODEL, 8 * GB)),
                            with_images("n2", (MODEL, 8 * GB), ("nginx:1.27", 70 * MB)),
                            node("n3"), node("n4")]})
    plugin = ImageLocality()
    nodes = [n for n in (snap.node("c1", name) for name in ("n1", "n2", "n3", "n4"))
             if n is not None]
    assert len(nodes) == 4
    state = CycleState(snap, DEFAULT_POLICY)
    info = PodInfo.from_pod(image_pod(MODEL))
    assert plugin.pre_score(state, info, nodes) is None
    scores = plugin.score(state, info, nodes)
    expected = priority(8 * GB * 2 / 4, 1)
    # n3 and n4 share the holders' region (one cluster): the region tier's share.
    region = priority(8 * GB * 2 / 4 * REGION_SHARE, 1)
    assert scores == [expected, expected, region, region] and expected > region > 0
    skipped = plugin.pre_score(CycleState(snap, DEFAULT_POLICY),
                               PodInfo.from_pod(image_pod("other:1")), nodes)
    assert skipped is not None and skipped.code.value == "Skip"


def test_counts_follow_node_changes() -> None:
    snap = snapshot({"c1": [node("n1"), node("n2")]})
    plugin = ImageLocality()
    assert not plugin.image_counts(snap)
    snap.upsert_node("c1", with_images("n2", (MODEL, GB)))
    assert plugin.image_counts(snap)[normalize_image(MODEL)] == 1


def test_the_node_with_the_image_wins_among_equal_nodes() -> None:
    nodes = [node("n1"), with_images("n2", (MODEL, 8 * GB)), node("n3")]
    result = schedule_one(nodes, image_pod(MODEL), ["nodeResourcesFit", "imageLocality"])
    assert placed_node(result) == "n2"


def test_every_mode_weighs_image_locality() -> None:
    assert all(weights.get("imageLocality", 0) > 0 for weights in MODE_PRESETS.values())


def test_tiers_same_node_then_zone_then_region_then_elsewhere() -> None:
    def zoned(name: str, zone: str, *images: tuple[str, int]) -> dict[str, Any]:
        out = with_images(name, *images)
        out["metadata"]["labels"]["topology.kubernetes.io/zone"] = zone
        return out
    snap = snapshot({"c1": [zoned("has", "z1", (MODEL, 8 * GB)), zoned("zone", "z1"),
                            zoned("region", "z2")],
                     "c2": [zoned("far", "z9")]},
                    regions={"c1": "r1", "c2": "r2"})
    plugin = ImageLocality()
    nodes = [snap.node(c, n) for c, n in (("c1", "has"), ("c1", "zone"), ("c1", "region"),
                                          ("c2", "far"))]
    state = CycleState(snap, DEFAULT_POLICY)
    info = PodInfo.from_pod(image_pod(MODEL))
    assert plugin.pre_score(state, info, nodes) is None  # type: ignore[arg-type]
    full = 8 * GB / 4
    assert plugin.score(state, info, nodes) == [  # type: ignore[arg-type]
        priority(full, 1), priority(full * ZONE_SHARE, 1), priority(full * REGION_SHARE, 1), 0]


def test_several_images_add_up_per_node_before_scaling() -> None:
    snap = snapshot({"c1": [with_images("n1", (MODEL, 8 * GB)),
                            with_images("n2", (MODEL, 8 * GB), ("nginx:1.27", 70 * MB)),
                            node("n3")]})
    plugin = ImageLocality()
    nodes = [snap.node("c1", n) for n in ("n1", "n2", "n3")]
    state = CycleState(snap, DEFAULT_POLICY)
    info = PodInfo.from_pod(image_pod(MODEL, "nginx:1.27"))
    assert plugin.pre_score(state, info, nodes) is None  # type: ignore[arg-type]
    model, web = 8 * GB * 2 / 3, 70 * MB / 3
    assert plugin.score(state, info, nodes) == [  # type: ignore[arg-type]
        priority(model + web * REGION_SHARE, 2), priority(model + web, 2),
        priority((model + web) * REGION_SHARE, 2)]
