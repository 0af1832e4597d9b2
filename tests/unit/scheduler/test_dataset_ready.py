"""DatasetReady: a pod that names edge datasets goes only where they are ready (reported among
the node's images under the tenant's dataset name), and waits with a reason otherwise;
ImageLocality counts a ready dataset like an image."""

from __future__ import annotations

from typing import Any

from scheduler import Placement, Unschedulable
from scheduler.datasets import DATASETS_ANNOTATION, dataset_image, dataset_names
from scheduler.policy import DEFAULT_POLICY

from .factories import node, placed_node, pod, scheduler_with, snapshot

GB = 1024**3


def with_dataset(name: str, tenant: str, dataset: str, size: int = 4 * GB) -> dict[str, Any]:
    out = node(name)
    out["status"]["images"] = [{"names": [dataset_image(tenant, "shop", dataset)],
                                "sizeBytes": size}]
    return out


def dataset_pod(names: str) -> dict[str, Any]:
    out = pod("infer")
    out["metadata"]["namespace"] = "shop"
    out["metadata"]["annotations"] = {DATASETS_ANNOTATION: names}
    return out


def test_dataset_names_are_read_once_each() -> None:
    assert dataset_names(dataset_pod(" qwen, llama ,qwen,")) == ("qwen", "llama")
    assert dataset_names(pod("plain")) == ()


def test_a_pod_goes_only_where_its_dataset_is_ready() -> None:
    snap = snapshot({"c1": [node("n1"), with_dataset("n2", "tenant-a", "qwen"), node("n3")]})
    result = scheduler_with(snap, ["nodeResourcesFit", "datasetReady"]).schedule(
        dataset_pod("qwen"), DEFAULT_POLICY, "tenant-a")
    assert placed_node(result) == "n2"


def test_it_waits_with_a_reason_and_another_tenants_dataset_does_not_count() -> None:
    snap = snapshot({"c1": [with_dataset("n1", "tenant-b", "qwen"), node("n2")]})
    sched = scheduler_with(snap, ["nodeResourcesFit", "datasetReady"])
    result = sched.schedule(dataset_pod("qwen"), DEFAULT_POLICY, "tenant-a")
    assert isinstance(result, Unschedulable)
    assert "2 node(s) didn't have the pod's edge datasets ready" in result.message
    # Both datasets are needed: one ready is not enough.
    snap.upsert_node("c1", with_dataset("n2", "tenant-a", "qwen"))
    result = sched.schedule(dataset_pod("qwen,llama"), DEFAULT_POLICY, "tenant-a")
    assert isinstance(result, Unschedulable)
    assert isinstance(sched.schedule(dataset_pod("qwen"), DEFAULT_POLICY, "tenant-a"), Placement)


def test_a_pod_without_datasets_is_not_filtered() -> None:
    snap = snapshot({"c1": [node("n1")]})
    result = scheduler_with(snap, ["nodeResourcesFit", "datasetReady"]).schedule(
        pod("plain"), DEFAULT_POLICY, "tenant-a")
    assert placed_node(result) == "n1"


def test_image_locality_prefers_the_node_with_the_ready_dataset() -> None:
    # No datasetReady here: the score alone picks the node that holds the dataset.
    snap = snapshot({"c1": [node("n1"), node("n2"), with_dataset("n3", "tenant-a", "qwen")]})
    result = scheduler_with(snap, ["nodeResourcesFit", "imageLocality"]).schedule(
        dataset_pod("qwen"), DEFAULT_POLICY, "tenant-a")
    assert placed_node(result) == "n3"
