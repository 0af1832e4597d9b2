"""EdgeDataset: spec, nodes chosen (copies per region), download Jobs per strategy, status per
cluster with checksum failures, a changed source, deletion; and the placer counting what
finished work pods put on their nodes (pre-warmed images, ready datasets)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from scheduler import Placement, Unschedulable
from scheduler.datasets import DATASETS_ANNOTATION, dataset_image
from scheduler.images import normalize_image
from syncer.core import markers
from syncer.kinds.dataset_translate import (
    DATASET_NAMESPACE,
    DatasetError,
    choose_nodes,
    dataset_job_state,
    host_path,
    parse_dataset_spec,
    to_start,
)
from syncer.kinds.edge_targets import NodeState, Target
from syncer.kube import Obj
from syncer.kube.apis import (
    EDGEDATASETS,
    EVENTS,
    IMAGEPREWARMS,
    JOBS,
    NAMESPACES,
    NODES,
    PODS,
    PVCS,
)
from syncer.warm_nodes import PROVIDES, provides
from tests.builders import edge_node, namespace

from .harness import SyncTest
from .test_imageprewarms import prewarm

SHA = "ab" * 32
URL = "http://127.0.0.1:8080/models/qwen.bin"


def dataset(name: str = "qwen", sha: str = SHA, **spec: object) -> Obj:
    return {"apiVersion": "edge.fusionvc.io/v1alpha1", "kind": "EdgeDataset",
            "metadata": {"name": name, "namespace": "shop", "uid": f"{name}-uid",
                         "generation": 1},
            "spec": {"source": {"url": URL, "sha256": sha, "sizeBytes": 4_000_000_000},
                     **spec}}


def finished(job: Obj, ok: bool, reason: str = "BackoffLimitExceeded") -> Obj:
    cond = ({"type": "Complete", "status": "True"} if ok else
            {"type": "Failed", "status": "True", "reason": reason, "message": "failed"})
    return {**job, "status": {"conditions": [cond]}}


# ---- pure -----------------------------------------------------------------------------------


def test_the_spec_has_defaults_and_bad_sources_are_errors() -> None:
    spec = parse_dataset_spec(dataset()["spec"])
    assert (spec.url, spec.sha256, spec.size, spec.strategy, spec.max_concurrent,
            spec.copies_per_region, spec.backoff_limit) == (URL, SHA, 4_000_000_000,
                                                            "AllAtOnce", 5, None, 3)
    with pytest.raises(DatasetError, match="sha256"):
        parse_dataset_spec(dataset(sha="xyz")["spec"])
    with pytest.raises(DatasetError, match="http"):
        parse_dataset_spec({"source": {"url": "ftp://x/y", "sha256": SHA}})
    with pytest.raises(DatasetError, match="OnFirstUse"):  # named among the valid ones
        parse_dataset_spec(dataset(strategy={"type": "OnDemand"})["spec"])
    assert parse_dataset_spec(dataset(strategy={"type": "OnFirstUse"})["spec"]).strategy == \
        "OnFirstUse"


def test_copies_per_region_keep_working_nodes_and_replace_failed_ones() -> None:
    candidates = [(Target("e1", f"n{i}"), "r1") for i in range(4)] + [(Target("e2", "m"), "r2")]
    everyone = choose_nodes(candidates, {}, None, "uid")
    assert len(everyone) == 5
    two = choose_nodes(candidates, {}, 2, "uid")
    assert sum(t.cluster == "e1" for t in two) == 2 and Target("e2", "m") in two
    assert choose_nodes(candidates, {}, 2, "uid") == two  # stable
    failed = next(t for t in two if t.cluster == "e1")
    again = choose_nodes(candidates, {t: NodeState("active") for t in two} |
                         {failed: NodeState("failed", "ChecksumMismatch")}, 2, "uid")
    assert failed in again and sum(t.cluster == "e1" for t in again) == 3


def test_strategies_start_all_or_a_bounded_number() -> None:
    states: dict[Target, NodeState | None] = {Target("a", f"n{i}"): None for i in range(4)}
    states[Target("a", "n0")] = NodeState("active")
    assert len(to_start(states, parse_dataset_spec(dataset()["spec"]))) == 3
    rolling = parse_dataset_spec(dataset(strategy={"type": "Rolling", "maxConcurrent": 2})["spec"])
    assert to_start(states, rolling) == [Target("a", "n1")]


def test_a_checksum_failure_is_told_in_the_downloaders_terms() -> None:
    state = dataset_job_state(finished({}, False, "PodFailurePolicy"))
    assert (state.state, state.reason) == ("failed", "ChecksumMismatch")
    assert dataset_job_state(finished({}, False)).reason == "TransferFailed"
    assert dataset_job_state(finished({}, True)).state == "succeeded"


# ---- the syncer -----------------------------------------------------------------------------


def two_edges(nodes: int = 3, tenant_spec: Obj | None = None) -> SyncTest:
    """tenant-a with namespace shop; edge-1 (r1) with n0..n<nodes-1>, edge-2 (r2) with n0."""
    sync = SyncTest()
    sync.put(sync.add_tenant("tenant-a", tenant_spec), NAMESPACES, namespace("shop"))
    one = sync.add_edge("edge-1", region="r1")
    for i in range(nodes):
        sync.put(one, NODES, edge_node(f"n{i}"))
    sync.put(sync.add_edge("edge-2", region="r2"), NODES, edge_node("n0"))
    return sync


@pytest.fixture
def fleet() -> Iterator[SyncTest]:
    sync = two_edges()
    yield sync
    sync.close()


def jobs(sync: SyncTest) -> dict[tuple[str, str], Obj]:
    return {(e.name, j["metadata"]["annotations"][markers.EDGE_NODE]): j
            for e in sync.ctx.edges.values() for j in e.store(JOBS)
            if "edge.fusionvc.io/edgedataset" in j["metadata"]["labels"]}


def downloads(sync: SyncTest) -> dict[tuple[str, str], Obj]:
    return {(e.name, j["metadata"]["annotations"][markers.EDGE_NODE]): j
            for e in sync.ctx.edges.values() for j in e.store(JOBS)
            if "edge.fusionvc.io/edgedataset" in j["metadata"]["labels"]
            and "edge.fusionvc.io/dataset-cleanup" not in j["metadata"]["labels"]}


def cleanups(sync: SyncTest) -> list[Obj]:
    return [j for e in sync.ctx.edges.values() for j in e.store(JOBS)
            if "edge.fusionvc.io/dataset-cleanup" in j["metadata"]["labels"]]


def status(sync: SyncTest, name: str = "qwen") -> Obj:
    obj = sync.ctx.tenants["tenant-a"].get(EDGEDATASETS, "shop", name)
    assert obj is not None
    found: Obj = obj.get("status") or {}
    return found


async def finish(sync: SyncTest, ok: bool = True, reason: str = "BackoffLimitExceeded") -> None:
    for (cluster, _node), job in jobs(sync).items():
        if "status" not in job:
            sync.put(sync.ctx.edges[cluster], JOBS, finished(job, ok, reason))
    await sync.settle()


async def bind_claims(sync: SyncTest, node: str | None = None) -> None:
    """The edge's PV binder: fusionvc's dataset claims (on ``node``, or all) become Bound."""
    for edge in sync.ctx.edges.values():
        for claim in list(edge.store(PVCS)):
            if "edge.fusionvc.io/edgedataset" not in claim["metadata"].get("labels", {}) or \
                    node not in (None, claim["metadata"]["annotations"][markers.EDGE_NODE]):
                continue
            sync.put(edge, PVCS, {**claim, "status": {"phase": "Bound"}})
    await sync.settle()


async def test_all_at_once_downloads_on_every_node_into_a_private_folder(
        fleet: SyncTest) -> None:
    tenant = fleet.ctx.tenants["tenant-a"]
    fleet.put(tenant, EDGEDATASETS, dataset())
    await fleet.settle()
    assert len(jobs(fleet)) == 4 and status(fleet)["phase"] == "Distributing"
    edge = fleet.ctx.edges["edge-1"]
    assert edge.get(NAMESPACES, "", DATASET_NAMESPACE) is not None
    job = jobs(fleet)[("edge-1", "n1")]
    assert job["metadata"]["namespace"] == DATASET_NAMESPACE
    pod_spec = job["spec"]["template"]["spec"]
    assert pod_spec["nodeName"] == "n1"
    assert pod_spec["volumes"][0]["hostPath"]["path"] == host_path(fleet.edge_ns(), "qwen", SHA)
    command = pod_spec["containers"][0]["command"]
    assert command[:3] == ["python", "-m", "syncer.datasetfetch"] and URL in command
    assert job["spec"]["podFailurePolicy"]["rules"][0]["onExitCodes"]["values"] == [3]
    await finish(fleet)
    got = status(fleet)  # downloaded; a copy is ready once the edge binds its claim
    assert (got["phase"], got["ready"], got["desired"]) == ("Distributing", 0, 4)
    assert {p["reason"] for p in got["pendingNodes"]} == {"VolumePending"}
    await bind_claims(fleet)
    got = status(fleet)
    assert (got["phase"], got["ready"], got["desired"]) == ("Ready", 4, 4)
    assert got["pendingNodes"] == []
    assert {c["name"]: c["ready"] for c in got["clusters"]} == {"edge-1": 3, "edge-2": 1}
    assert "vn-edge-1-n1" in got["readyNodes"]


async def test_rolling_keeps_at_most_max_concurrent_transfers(fleet: SyncTest) -> None:
    tenant = fleet.ctx.tenants["tenant-a"]
    fleet.put(tenant, EDGEDATASETS, dataset(strategy={"type": "Rolling", "maxConcurrent": 1}))
    for started in range(1, 5):
        await fleet.settle()
        assert len(jobs(fleet)) == started
        await finish(fleet)
    await bind_claims(fleet)
    assert status(fleet)["phase"] == "Ready"


async def test_a_checksum_mismatch_is_reported_and_the_node_replaced(fleet: SyncTest) -> None:
    tenant = fleet.ctx.tenants["tenant-a"]
    fleet.put(tenant, EDGEDATASETS, dataset(copiesPerRegion=1))
    await fleet.settle()
    first = set(jobs(fleet))
    assert {c for c, _ in first} == {"edge-1", "edge-2"} and len(first) == 2
    await finish(fleet, ok=False, reason="PodFailurePolicy")
    # Each region gets another node where there is one (r1); r2 has no other node.
    assert len(jobs(fleet)) == 3
    got = status(fleet)
    assert got["failed"] == 2 and got["phase"] == "Distributing"
    assert {f["reason"] for f in got["failedNodes"]} == {"ChecksumMismatch"}
    await finish(fleet)
    await bind_claims(fleet)
    assert status(fleet)["phase"] == "Degraded" and status(fleet)["ready"] == 1


async def test_a_changed_source_replaces_the_jobs_and_deletion_removes_them(
        fleet: SyncTest) -> None:
    tenant = fleet.ctx.tenants["tenant-a"]
    fleet.put(tenant, EDGEDATASETS, dataset(target={"clusters": ["edge-2"]}))
    await fleet.settle()
    (old,) = jobs(fleet).values()
    fleet.put(tenant, EDGEDATASETS, dataset(sha="cd" * 32, target={"clusters": ["edge-2"]}))
    await fleet.settle()
    (new,) = jobs(fleet).values()
    assert new["metadata"]["name"] != old["metadata"]["name"]
    fleet.remove(tenant, EDGEDATASETS, "shop", "qwen")
    await fleet.settle()
    assert not downloads(fleet)  # each left a cleanup Job of its folder (test_dataset_cleanup)


async def test_a_prewarm_of_the_same_name_keeps_its_own_jobs(fleet: SyncTest) -> None:
    tenant = fleet.ctx.tenants["tenant-a"]
    fleet.put(tenant, IMAGEPREWARMS, prewarm("qwen", target={"clusters": ["edge-2"]}))
    fleet.put(tenant, EDGEDATASETS, dataset(target={"clusters": ["edge-2"]}))
    await fleet.settle()
    edge = fleet.ctx.edges["edge-2"]
    assert len(list(edge.store(JOBS))) == 2
    fleet.remove(tenant, EDGEDATASETS, "shop", "qwen")
    await fleet.settle()
    (left,) = [j for j in edge.store(JOBS)
               if j["metadata"]["name"] not in {d["metadata"]["name"] for d in cleanups(fleet)}]
    assert "edge.fusionvc.io/imageprewarm" in left["metadata"]["labels"]


async def test_an_invalid_spec_is_told_to_the_tenant(fleet: SyncTest) -> None:
    tenant = fleet.ctx.tenants["tenant-a"]
    fleet.put(tenant, EDGEDATASETS, dataset(strategy={"type": "Sometimes"}))
    await fleet.settle()
    assert status(fleet)["phase"] == "Failed" and "Sometimes" in status(fleet)["message"]
    assert any(c.verb == "create" and c.body["reason"] == "InvalidSpec"
               for c in fleet.client(tenant).writes(EVENTS))


# ---- what finished work puts on a node, as the placer sees it -------------------------------


def work_pod(job: Obj, phase: str) -> Obj:
    template = job["spec"]["template"]
    return {"metadata": {"name": f"{job['metadata']['name']}-x",
                         "namespace": job["metadata"]["namespace"],
                         "annotations": template["metadata"]["annotations"],
                         "ownerReferences": [{"kind": "Job", "controller": True,
                                              "name": job["metadata"]["name"], "uid": "j"}]},
            "spec": template["spec"], "status": {"phase": phase}}


async def test_a_tenant_cannot_make_a_node_look_ready_for_a_dataset(fleet: SyncTest) -> None:
    edge = fleet.ctx.edges["edge-1"]
    claim = {PROVIDES: provides({dataset_image("tenant-b", "shop", "qwen"): 1})}
    forged = {"metadata": {"name": "forged", "namespace": fleet.edge_ns(),
                           "labels": markers.marker_labels("tenant-a"), "annotations": claim,
                           "ownerReferences": [{"kind": "Job", "controller": True,
                                                "name": "j", "uid": "j"}]},
              "spec": {"nodeName": "n1", "containers": []}, "status": {"phase": "Succeeded"}}
    fleet.put(edge, PODS, forged)  # a tenant pod's copy, with the tenant's annotation
    unmarked = {**forged, "metadata": {**forged["metadata"], "name": "job-pod", "labels": {}}}
    fleet.put(edge, PODS, unmarked)  # a Job's pod, but not in fusionvc's dataset namespace
    assert not fleet.placer.snapshot.node("edge-1", "n1").facts.images  # type: ignore[union-attr]


async def test_a_succeeded_download_makes_the_node_ready_for_pods_that_need_it(
        fleet: SyncTest) -> None:
    tenant = fleet.ctx.tenants["tenant-a"]
    fleet.put(tenant, EDGEDATASETS, dataset(target={"clusters": ["edge-1"]}))
    await fleet.settle()
    needs = {"metadata": {"name": "infer", "namespace": "shop",
                          "annotations": {DATASETS_ANNOTATION: "qwen"}},
             "spec": {"containers": [{"name": "c", "image": "app:1"}]}}
    placed = fleet.placer.place(tenant, needs)
    assert isinstance(placed, Unschedulable) and "edge datasets ready" in placed.message
    edge = fleet.ctx.edges["edge-1"]
    job = jobs(fleet)[("edge-1", "n2")]
    fleet.put(edge, PODS, work_pod(job, "Running"))
    assert isinstance(fleet.placer.place(tenant, needs), Unschedulable)
    fleet.put(edge, PODS, work_pod(job, "Succeeded"))
    fleet.put(edge, JOBS, finished(job, True))
    await fleet.settle()  # the claim is written, not Bound yet: a pod placed now has no claim
    assert isinstance(fleet.placer.place(tenant, needs), Unschedulable)
    assert {p["node"]: p["reason"] for p in status(fleet)["pendingNodes"]}[
        "vn-edge-1-n2"] == "VolumePending"
    await bind_claims(fleet, "n2")
    placed = fleet.placer.place(tenant, needs)
    assert isinstance(placed, Placement) and placed.node == "n2"
    assert status(fleet)["readyNodes"] == ["vn-edge-1-n2"]
    images = fleet.placer.snapshot.node("edge-1", "n2").facts.images  # type: ignore[union-attr]
    assert images[dataset_image("tenant-a", "shop", "qwen")] == 4_000_000_000
    # The node's own report comes back when the node changes; the work pod's entry stays.
    fleet.put(edge, NODES, edge_node("n2", labels={"x": "y"}))
    assert dataset_image("tenant-a", "shop", "qwen") in fleet.placer.snapshot.node(
        "edge-1", "n2").facts.images  # type: ignore[union-attr]
    fleet.remove(edge, PODS, job["metadata"]["namespace"], f"{job['metadata']['name']}-x")
    assert not fleet.placer.snapshot.node("edge-1", "n2").facts.images  # type: ignore[union-attr]


async def test_a_succeeded_prewarm_counts_as_the_nodes_image(fleet: SyncTest) -> None:
    tenant = fleet.ctx.tenants["tenant-a"]
    fleet.put(tenant, IMAGEPREWARMS, prewarm(target={"clusters": ["edge-1"]}))
    await fleet.settle()
    edge = fleet.ctx.edges["edge-1"]
    (job,) = [j for j in edge.store(JOBS)
              if j["metadata"]["annotations"][markers.EDGE_NODE] == "n1"]
    assert PROVIDES in job["spec"]["template"]["metadata"]["annotations"]
    fleet.put(edge, PODS, work_pod(job, "Succeeded"))
    images = fleet.placer.snapshot.node("edge-1", "n1").facts.images  # type: ignore[union-attr]
    assert images == {normalize_image("registry.local/llm/qwen:7b"): 4_000_000_000}
    pod = {"metadata": {"name": "p", "namespace": "shop"},
           "spec": {"containers": [{"name": "c", "image": "registry.local/llm/qwen:7b"}]}}
    placed = fleet.placer.place(tenant, pod)
    assert isinstance(placed, Placement) and (placed.cluster, placed.node) == ("edge-1", "n1")


# ---- "where this Deployment runs" -----------------------------------------------------------


def tenant_pod(name: str, owner: str, template_hash: str, cluster: str, node: str) -> Obj:
    return {"metadata": {"name": name, "namespace": "shop",
                         "labels": {"pod-template-hash": template_hash},
                         "ownerReferences": [{"kind": "ReplicaSet", "controller": True,
                                              "name": owner, "uid": f"{owner}-uid"}],
                         "annotations": {markers.EDGE_CLUSTER: cluster,
                                         markers.EDGE_NODE: node}},
            "spec": {"nodeName": f"vn-{cluster}-{node}"}}


async def test_a_deployment_target_means_the_nodes_its_pods_run_on(fleet: SyncTest) -> None:
    tenant = fleet.ctx.tenants["tenant-a"]
    store = tenant.informers[PODS.plural].store  # placed pods, as the tenant's watch has them
    store.upsert(tenant_pod("web-1", "web-abc", "abc", "edge-1", "n1"))
    store.upsert(tenant_pod("web-2", "web-abc", "abc", "edge-2", "n0"))
    store.upsert(tenant_pod("webapp-1", "webapp-xyz", "xyz", "edge-1", "n2"))  # another one
    store.upsert(tenant_pod("odd", "web-abc", "zzz", "edge-1", "n0"))  # hash does not match
    fleet.put(tenant, IMAGEPREWARMS, prewarm(target={"deployment": "web"}))
    fleet.put(tenant, EDGEDATASETS, dataset(target={"deployment": "web",
                                                    "clusters": ["edge-1"]}))
    await fleet.settle()
    prewarm_jobs = {(e.name, j["metadata"]["annotations"][markers.EDGE_NODE])
                    for e in fleet.ctx.edges.values() for j in e.store(JOBS)
                    if "edge.fusionvc.io/imageprewarm" in j["metadata"]["labels"]}
    assert prewarm_jobs == {("edge-1", "n1"), ("edge-2", "n0")}
    assert set(jobs(fleet)) == {("edge-1", "n1")}
