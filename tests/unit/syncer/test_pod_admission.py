"""Pods fusionvc does not place itself: other schedulers, tenant-bound pods, lost or not."""

from __future__ import annotations

from typing import Any

import pytest

from scheduler import Scheduler
from syncer.core import markers
from syncer.kinds.pod_admission import admission_failure, scheduled_by_fusionvc, was_placed
from syncer.kinds.pod_translate import translate_pod_down
from syncer.placement import Placer, tenancy
from tests.unit.scheduler.factories import node, pod

Obj = dict[str, Any]


def tpod(node_name: str | None = None, annotations: dict[str, str] | None = None,
         start: bool = False, scheduler: str | None = None) -> Obj:
    spec: Obj = {"containers": []}
    if node_name:
        spec["nodeName"] = node_name
    if scheduler is not None:
        spec["schedulerName"] = scheduler
    status = {"startTime": "2026-01-01T00:00:00Z"} if start else {}
    return {"metadata": {"name": "p", "namespace": "ns", "annotations": annotations or {}},
            "spec": spec, "status": status}


PLACED = {markers.EDGE_CLUSTER: "edge-gz", markers.EDGE_NODE: "gz-cpu-0"}


@pytest.mark.parametrize(("pod_", "expected"), [
    (tpod("vn-edge-gz-gz-cpu-0", PLACED, start=True), True),
    (tpod("vn-edge-gz-gz-cpu-0", PLACED), False),  # never started anywhere
    (tpod("vn-edge-sh-sh-cpu-1", PLACED, start=True), False),  # annotations name another node
    (tpod("vn-edge-gz-gz-cpu-0", start=True), False),  # bound by the tenant
])
def test_only_a_pod_fusionvc_placed_and_started_can_be_lost(pod_: Obj, expected: bool) -> None:
    assert was_placed(pod_) is expected


@pytest.mark.parametrize(("name", "ours"), [
    (None, True), ("default-scheduler", True), ("fusionvc", True), ("my-own-scheduler", False)])
def test_scheduler_name(name: str | None, ours: bool) -> None:
    assert scheduled_by_fusionvc(tpod(scheduler=name)) is ours


def schedule(the_pod: Obj) -> Any:
    placer = Placer()
    placer.snapshot.set_cluster("edge-gz", "cn-guangzhou", True, {})
    placer.snapshot.upsert_node("edge-gz", node("gz-cpu-0", cpu="1"))
    return Scheduler(placer.snapshot).schedule(the_pod)


@pytest.mark.parametrize(("the_pod", "reason", "words"), [
    (pod(cpu="2", node_name="vn-edge-gz-gz-cpu-0"), "OutOfcpu", "Insufficient cpu"),
    (pod(node_name="vn-edge-gz-gz-cpu-0", node_selector={"disk": "ssd"}), "NodeAffinity",
     "node affinity"),
    (pod(node_name="gz-cpu-0"), "NodeNotFound", "'gz-cpu-0' names no virtual node"),
])
def test_admission_failures_read_like_kubelets(the_pod: Obj, reason: str, words: str) -> None:
    got_reason, message = admission_failure(schedule(the_pod))
    assert got_reason == reason
    assert message.startswith("Pod was rejected: ") and words in message


def test_tenancy_reads_an_edge_pods_tenant_namespace_labels_and_anti_affinity() -> None:
    anti = [{"labelSelector": {"matchLabels": {"app": "web"}},
             "topologyKey": "kubernetes.io/hostname"}]
    tenant_pod = {"metadata": {"name": "web-1", "namespace": "shop", "uid": "u1",
                               "labels": {"app": "web"}},
                  "spec": {"containers": [], "affinity": {"podAntiAffinity": {
                      "requiredDuringSchedulingIgnoredDuringExecution": anti}}}}
    edge_pod = translate_pod_down(tenant_pod, tenant="tenant-a", edge_namespace="tenant-a-x-shop",
                                  edge_node="gz-cpu-0", virtual_node="vn-edge-gz-gz-cpu-0")
    view = tenancy(edge_pod)
    assert view is not None
    assert (view.tenant, view.namespace, dict(view.labels)) == ("tenant-a", "shop",
                                                                {"app": "web"})
    assert [t.topology_key for t in view.required_anti] == ["kubernetes.io/hostname"]
    assert tenancy({"metadata": {"name": "foreign", "namespace": "kube-system"}}) is None


def test_a_policy_change_retries_pending_pods() -> None:
    placer = Placer()
    heard: list[int] = []
    placer.add_listener(heard.append)
    placer.policy_changed()
    assert heard == [placer.snapshot.generation]
