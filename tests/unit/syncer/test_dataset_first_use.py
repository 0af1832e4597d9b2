"""EdgeDatasets distributed OnFirstUse: nothing up front; the scheduler does not require the
copy but bounds the pod to where a copy may go (target, copies per region, not a failed node);
the pod is bound and waits (WaitingForDataset) while its node's copy is made, then runs; a
failed transfer fails the pod with the reason."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from scheduler import Placement, Unschedulable
from scheduler.datasets import DATASETS_ANNOTATION, FIRST_USE_ANNOTATION, pod_required_datasets
from syncer.core import markers
from syncer.kinds.dataset_first_use import (
    and_terms,
    bound_terms,
    demanded_targets,
    placement_view,
    select_first_use,
    transfer_state,
    waiting_pods,
)
from syncer.kinds.dataset_first_use_gate import FirstUseGate
from syncer.kinds.dataset_translate import parse_dataset_spec
from syncer.kinds.edge_targets import NodeState, Target
from syncer.kinds.pods import PodSyncer
from syncer.kube import Obj
from syncer.kube.apis import EDGEDATASETS, EVENTS, JOBS, PODS

from .harness import SyncTest
from .test_dataset_oci import jobs, one_edge
from .test_edgedatasets import bind_claims, dataset, finished

FIRST_USE = {"type": "OnFirstUse"}
HOST = "kubernetes.io/hostname"
REGION = "topology.kubernetes.io/region"


def needs(name: str = "infer", datasets: str = "qwen", **spec: object) -> Obj:
    return {"metadata": {"name": name, "namespace": "shop", "uid": f"{name}-uid",
                         "annotations": {DATASETS_ANNOTATION: datasets}},
            "spec": {"containers": [{"name": "c", "image": "app:1"}], **spec}}


# ---- pure -----------------------------------------------------------------------------------


def test_the_scheduler_does_not_require_first_use_datasets() -> None:
    pod = needs(datasets="qwen,tok")
    assert len(pod_required_datasets(pod, "t")) == 2
    pod["metadata"]["annotations"][FIRST_USE_ANNOTATION] = "qwen"
    (only,) = pod_required_datasets(pod, "t")
    assert only.endswith("/t/shop/tok:latest")


def test_the_bound_is_the_target_with_room_or_a_node_holding_a_copy() -> None:
    spec = parse_dataset_spec(dataset(strategy=FIRST_USE, copiesPerRegion=1,
                                      target={"regions": ["r1", "r2"]})["spec"])
    held = {Target("e1", "n0"): "r1"}
    terms = bound_terms(spec, {"nodeSelector": {"matchLabels": {"gpu": "a10"}}}, held,
                        [Target("e2", "m0")])
    assert terms == [
        {"matchExpressions": [
            {"key": "gpu", "operator": "In", "values": ["a10"]},
            {"key": REGION, "operator": "In", "values": ["r1", "r2"]},
            {"key": HOST, "operator": "NotIn", "values": ["vn-e2-m0"]},
            {"key": REGION, "operator": "NotIn", "values": ["r1"]}]},  # r1 has its copy
        {"matchExpressions": [{"key": HOST, "operator": "In", "values": ["vn-e1-n0"]}]}]
    unbounded = parse_dataset_spec(dataset(strategy=FIRST_USE)["spec"])
    assert bound_terms(unbounded, {}, {}, []) == []  # any node


def test_bounds_are_anded_into_the_pods_own_required_terms() -> None:
    a, b = {"matchExpressions": [{"key": "x", "operator": "Exists"}]}, \
        {"matchExpressions": [{"key": "y", "operator": "Exists"}]}
    ours = [{"matchExpressions": [{"key": "z", "operator": "Exists"}]}]
    assert and_terms(None, ours) == ours
    assert [len(t["matchExpressions"]) for t in and_terms([a, b], ours)] == [2, 2]
    pod = needs(affinity={"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [a]}}})
    view = placement_view(pod, ["qwen"], [ours])
    assert view["metadata"]["annotations"][FIRST_USE_ANNOTATION] == "qwen"
    assert view["spec"]["affinity"]["nodeAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"] == [
        {"matchExpressions": [a["matchExpressions"][0], ours[0]["matchExpressions"][0]]}]
    assert "affinity" in pod["spec"] and FIRST_USE_ANNOTATION not in pod["metadata"][
        "annotations"]  # the pod itself is unchanged
    assert placement_view(needs(), [], []) == needs()


def test_the_tenants_own_first_use_annotation_is_dropped() -> None:
    forged = needs()
    forged["metadata"]["annotations"][FIRST_USE_ANNOTATION] = "qwen"
    view = placement_view(forged, [], [])
    assert FIRST_USE_ANNOTATION not in view["metadata"]["annotations"]
    assert len(pod_required_datasets(view, "t")) == 1


@pytest.mark.parametrize(("states", "expected"), [
    ({"qwen": NodeState("succeeded")}, ("ready", "")),
    ({"qwen": None}, ("waiting", "WaitingForDataset")),
    ({"qwen": NodeState("succeeded"), "tok": NodeState("active")},
     ("waiting", "WaitingForDataset")),
    ({"qwen": NodeState("failed", "ImagePullFailed", "ErrImagePull"), "tok": None},
     ("failed", "DatasetTransferFailed")),
])
def test_a_pods_transfer_state(states: dict[str, NodeState | None],
                               expected: tuple[str, str]) -> None:
    state, reason, message = transfer_state(states)
    assert (state, reason) == expected
    if state == "failed":
        assert "'qwen'" in message and "ImagePullFailed: ErrImagePull" in message


def test_copies_go_where_pods_were_bound_inside_the_target() -> None:
    bound = needs("a")
    bound["metadata"]["annotations"].update({markers.EDGE_CLUSTER: "e1",
                                             markers.EDGE_NODE: "n1"})
    done = {**bound, "metadata": {**bound["metadata"], "name": "b"},
            "status": {"phase": "Succeeded"}}
    other = needs("c", datasets="tok")
    other["metadata"]["annotations"].update(bound["metadata"]["annotations"])
    demanded = demanded_targets([bound, done, other, needs("d")], "shop", "qwen")
    assert demanded == {Target("e1", "n1")}
    spec = parse_dataset_spec(dataset(strategy=FIRST_USE, copiesPerRegion=1)["spec"])
    candidates = [(Target("e1", "n0"), "r1"), (Target("e1", "n1"), "r1")]
    assert select_first_use(spec, candidates, demanded) == ([(Target("e1", "n1"), "r1")], None)
    eager = parse_dataset_spec(dataset(copiesPerRegion=1)["spec"])
    assert select_first_use(eager, candidates, demanded) == (candidates, 1)


def test_pods_waiting_on_a_node_whose_transfer_ended_are_woken() -> None:
    waiting = needs("a")
    waiting["metadata"]["annotations"].update({markers.EDGE_CLUSTER: "e1",
                                               markers.EDGE_NODE: "n1"})
    waiting["status"] = {"conditions": [{"type": "ContainersReady", "status": "False",
                                         "reason": "WaitingForDataset"}]}
    running = {**waiting, "metadata": {**waiting["metadata"], "name": "b"}, "status": {}}
    elsewhere = {**waiting, "metadata": {**waiting["metadata"], "name": "c", "annotations": {
        **waiting["metadata"]["annotations"], markers.EDGE_NODE: "n2"}}}
    pods = [waiting, running, elsewhere]
    assert waiting_pods(pods, "shop", "qwen", {Target("e1", "n1")}) == ["a"]
    assert waiting_pods(pods, "shop", "tok", {Target("e1", "n1")}) == []


# ---- the syncers ----------------------------------------------------------------------------


@pytest.fixture
def fleet() -> Iterator[SyncTest]:
    """tenant-a with namespace shop; edge-1 (r1) with n0..n2."""
    sync = one_edge(3)
    yield sync
    sync.close()


def tenant_pod(sync: SyncTest, name: str = "infer") -> Obj:
    found = sync.ctx.tenants["tenant-a"].get(PODS, "shop", name)
    assert found is not None
    return found


def gate(sync: SyncTest) -> FirstUseGate:
    pods = sync.syncer("Pod")
    assert isinstance(pods, PodSyncer)
    return pods.first_use


def condition(pod: Obj, ctype: str) -> Obj:
    return next(c for c in pod["status"].get("conditions", []) if c["type"] == ctype)


async def test_nothing_is_distributed_until_a_pod_asks(fleet: SyncTest) -> None:
    tenant = fleet.ctx.tenants["tenant-a"]
    fleet.put(tenant, EDGEDATASETS, dataset(strategy=FIRST_USE))
    await fleet.settle()
    assert not jobs(fleet)
    got = tenant.get(EDGEDATASETS, "shop", "qwen")["status"]  # type: ignore[index]
    assert got["phase"] == "Pending" and got["message"].startswith("OnFirstUse")


async def test_a_pod_waits_for_its_first_use_copy_then_runs(fleet: SyncTest) -> None:
    tenant, edge = fleet.ctx.tenants["tenant-a"], fleet.ctx.edges["edge-1"]
    fleet.put(tenant, EDGEDATASETS, dataset(strategy=FIRST_USE))
    fleet.put(tenant, PODS, needs())
    await fleet.settle()
    pod = tenant_pod(fleet)
    node = pod["metadata"]["annotations"][markers.EDGE_NODE]
    assert pod["spec"]["nodeName"] == f"vn-edge-1-{node}"  # bound: that starts the transfer
    assert set(jobs(fleet)) == {node}  # on its node only
    assert edge.get(PODS, fleet.edge_ns(), "infer") is None  # its edge copy waits
    for ctype in ("ContainersReady", "Ready"):
        cond = condition(pod, ctype)
        assert (cond["status"], cond["reason"]) == ("False", "WaitingForDataset")
    events = [c.body for c in fleet.client(tenant).writes(EVENTS) if c.verb == "create"]
    assert any(e["reason"] == "WaitingForDataset" and e["type"] == "Normal" for e in events)
    fleet.put(edge, JOBS, finished(jobs(fleet)[node], True))
    await fleet.settle()  # the EdgeDataset's reconcile wakes the waiting pod
    epod = edge.get(PODS, fleet.edge_ns(), "infer")
    assert epod is not None and epod["spec"]["nodeName"] == node


async def test_a_failed_transfer_fails_the_pod_and_the_next_goes_elsewhere(
        fleet: SyncTest) -> None:
    tenant, edge = fleet.ctx.tenants["tenant-a"], fleet.ctx.edges["edge-1"]
    fleet.put(tenant, EDGEDATASETS, dataset(strategy=FIRST_USE))
    fleet.put(tenant, PODS, needs())
    await fleet.settle()
    node = tenant_pod(fleet)["metadata"]["annotations"][markers.EDGE_NODE]
    fleet.put(edge, JOBS, finished(jobs(fleet)[node], False))
    await fleet.settle()
    pod = tenant_pod(fleet)
    assert (pod["status"]["phase"], pod["status"]["reason"]) == ("Failed",
                                                                 "DatasetTransferFailed")
    assert "TransferFailed" in pod["status"]["message"]
    assert condition(pod, "ContainersReady")["reason"] == "DatasetTransferFailed"
    assert edge.get(PODS, fleet.edge_ns(), "infer") is None
    fleet.put(tenant, PODS, needs("again"))
    await fleet.settle()
    again = tenant_pod(fleet, "again")
    assert again["metadata"]["annotations"][markers.EDGE_NODE] != node


async def test_a_node_with_a_ready_copy_is_preferred(fleet: SyncTest) -> None:
    tenant, edge = fleet.ctx.tenants["tenant-a"], fleet.ctx.edges["edge-1"]
    fleet.put(tenant, EDGEDATASETS, dataset(strategy=FIRST_USE))
    fleet.put(tenant, PODS, needs("first"))
    await fleet.settle()
    node = tenant_pod(fleet, "first")["metadata"]["annotations"][markers.EDGE_NODE]
    job = finished(jobs(fleet)[node], True)
    fleet.put(edge, JOBS, job)
    template = job["spec"]["template"]
    fleet.put(edge, PODS, {"metadata": {"name": "work", "namespace": job["metadata"]["namespace"],
                                        "annotations": template["metadata"]["annotations"],
                                        "ownerReferences": [{"kind": "Job", "controller": True,
                                                             "name": "j", "uid": "j"}]},
                           "spec": template["spec"], "status": {"phase": "Succeeded"}})
    await fleet.settle()
    await bind_claims(fleet)  # a downloaded copy counts once its claim is Bound (bound_claims)
    for _ in range(3):
        placed = fleet.placer.place(tenant, gate(fleet).view(tenant, needs("next")))
        assert isinstance(placed, Placement) and placed.node == node


async def test_copies_per_region_bound_where_first_use_pods_go(fleet: SyncTest) -> None:
    tenant = fleet.ctx.tenants["tenant-a"]
    fleet.put(tenant, EDGEDATASETS, dataset(strategy=FIRST_USE, copiesPerRegion=1))
    fleet.put(tenant, PODS, needs("first"))
    await fleet.settle()
    node = tenant_pod(fleet, "first")["metadata"]["annotations"][markers.EDGE_NODE]
    placed = fleet.placer.place(tenant, gate(fleet).view(tenant, needs("second")))
    assert isinstance(placed, Placement) and placed.node == node  # r1 has its one copy
    fleet.put(tenant, EDGEDATASETS, dataset(strategy=FIRST_USE, copiesPerRegion=1,
                                            target={"clusters": ["edge-2"]}))
    placed = fleet.placer.place(tenant, gate(fleet).view(tenant, needs("third")))
    assert isinstance(placed, Placement)  # the node getting its copy is still allowed
    fleet.put(tenant, EDGEDATASETS, dataset(strategy=FIRST_USE, target={"clusters": ["x"]}))
    fleet.remove(tenant, PODS, "shop", "first")
    fleet.remove(edge_conn := fleet.ctx.edges["edge-1"], JOBS, jobs(fleet)[node]["metadata"][
        "namespace"], jobs(fleet)[node]["metadata"]["name"])
    assert edge_conn is not None
    placed = fleet.placer.place(tenant, gate(fleet).view(tenant, needs("fourth")))
    assert isinstance(placed, Unschedulable)  # no node of the target
