"""ImagePrewarm: spec, targets, one pinned pull Job per node, parallelism, status per cluster,
failed nodes with reasons, TTL, and the registry credentials of the pull work."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from syncer.core import markers
from syncer.fleet.registries import PULL_SECRET, resolve_registry_auths
from syncer.kinds.prewarm_translate import (
    NodeState,
    PrewarmError,
    Target,
    job_name,
    job_state,
    parse_prewarm_spec,
    prewarm_status,
    to_create,
    translate_prewarm_job,
)
from syncer.kube import Obj
from syncer.kube.apis import EVENTS, IMAGEPREWARMS, JOBS, NAMESPACES, NODES, SECRETS
from tests.builders import edge_node, namespace

from .harness import SyncTest
from .test_registry_credentials import REGISTRIES, SERVER, basic_auth

IMAGE = "registry.local/llm/qwen:7b"


def prewarm(name: str = "warm", **spec: object) -> Obj:
    return {"apiVersion": "edge.fusionvc.io/v1alpha1", "kind": "ImagePrewarm",
            "metadata": {"name": name, "namespace": "shop", "uid": f"{name}-uid",
                         "generation": 1},
            "spec": {"images": [{"image": IMAGE, "sizeBytes": 4_000_000_000}], **spec}}


def finished(job: Obj, ok: bool, reason: str = "BackoffLimitExceeded") -> Obj:
    cond = ({"type": "Complete", "status": "True"} if ok else
            {"type": "Failed", "status": "True", "reason": reason,
             "message": "Job has reached the specified backoff limit"})
    return {**job, "status": {"conditions": [cond], "succeeded": 1 if ok else 0}}


# ---- pure -----------------------------------------------------------------------------------


def test_the_spec_has_defaults_and_a_bad_selector_is_an_error() -> None:
    spec = parse_prewarm_spec(prewarm()["spec"])
    assert (spec.images, spec.parallelism, spec.backoff_limit, spec.timeout_s, spec.ttl_s) == (
        (IMAGE,), 10, 3, 600, None)
    assert spec.selector is None and spec.clusters is None and spec.regions is None
    with pytest.raises(PrewarmError, match="unsupported operator"):
        parse_prewarm_spec(prewarm(target={"nodeSelector": {"matchExpressions": [
            {"key": "a", "operator": "Near"}]}})["spec"])
    with pytest.raises(PrewarmError, match=r"spec\.images"):
        parse_prewarm_spec({"images": []})


def test_the_pull_job_is_pinned_to_its_node_and_does_nothing_but_pull() -> None:
    obj = prewarm(backoffLimit=1, timeoutSeconds=120)
    spec = parse_prewarm_spec(obj["spec"])
    job = translate_prewarm_job(obj, spec, Target("edge-1", "n1"), tenant="tenant-a",
                                edge_namespace="ens", pull_secrets=(PULL_SECRET,))
    assert job["metadata"]["name"] == job_name("warm", Target("edge-1", "n1"))
    assert len(job["metadata"]["name"]) <= 63
    assert markers.tenant_key_index(job) == ["tenant-a/shop/warm"]
    assert (job["spec"]["backoffLimit"], job["spec"]["activeDeadlineSeconds"]) == (1, 120)
    pod_spec = job["spec"]["template"]["spec"]
    assert pod_spec["nodeName"] == "n1" and pod_spec["restartPolicy"] == "Never"
    assert [c["image"] for c in pod_spec["containers"]] == [IMAGE]
    assert pod_spec["containers"][0]["command"] == ["/bin/sh", "-c", "exit 0"]
    assert pod_spec["imagePullSecrets"] == [{"name": PULL_SECRET}]
    assert pod_spec["automountServiceAccountToken"] is False
    # Its pods are not copies of tenant pods: no markers the pod syncer would act on.
    assert not markers.is_managed(job["spec"]["template"])
    long = job_name("x" * 250, Target("edge-1", "n1"))
    assert len(long) <= 63 and long != job_name("x" * 250, Target("edge-1", "n2"))


@pytest.mark.parametrize(("states", "phase", "counts"), [
    ({}, "Pending", (0, 0, 0, 0)),
    ({Target("a", "n1"): None}, "Pending", (1, 0, 0, 0)),
    ({Target("a", "n1"): NodeState("active"), Target("b", "n1"): None}, "Running", (2, 1, 0, 0)),
    ({Target("a", "n1"): NodeState("succeeded")}, "Succeeded", (1, 0, 1, 0)),
    ({Target("a", "n1"): NodeState("succeeded"), Target("b", "n2"): NodeState("failed", "X")},
     "Failed", (2, 0, 1, 1)),
])
def test_status_phase_and_counts(states: dict[Target, NodeState | None], phase: str,
                                 counts: tuple[int, int, int, int]) -> None:
    status = prewarm_status(states, {}, "2026-01-01T00:00:00Z")
    assert status["phase"] == phase
    assert (status["desired"], status["active"], status["succeeded"], status["failed"]) == counts
    assert ("completionTime" in status) == (phase in ("Succeeded", "Failed"))


def test_parallelism_bounds_the_jobs_started() -> None:
    states: dict[Target, NodeState | None] = {Target("a", f"n{i}"): None for i in range(5)}
    states[Target("a", "n0")] = NodeState("active")
    assert to_create(states, 3) == [Target("a", "n1"), Target("a", "n2")]
    assert to_create(states, 1) == []


def test_job_states() -> None:
    assert job_state({}).state == "active"
    assert job_state(finished({}, True)).state == "succeeded"
    failed = job_state(finished({}, False, "DeadlineExceeded"))
    assert (failed.state, failed.reason) == ("failed", "DeadlineExceeded")


# ---- the syncer -----------------------------------------------------------------------------


@pytest.fixture
def fleet() -> Iterator[SyncTest]:
    """tenant-a (with registry credentials for registry.local:5000); edge-1 in r1 with nodes
    n0..n2 (n2 a GPU node), edge-2 in r2 with n0."""
    sync = SyncTest()
    tenant = sync.add_tenant("tenant-a", REGISTRIES)
    tenant.registry_auths = resolve_registry_auths(
        tenant.spec.registries, {"reg-a": basic_auth("reg-a", "robot", "s3cret")}.get)
    sync.put(tenant, NAMESPACES, namespace("shop"))
    one = sync.add_edge("edge-1", region="r1")
    for i in range(3):
        labels = {"nvidia.com/gpu.product": "A10"} if i == 2 else {}
        sync.put(one, NODES, edge_node(f"n{i}", labels=labels))
    sync.put(sync.add_edge("edge-2", region="r2"), NODES, edge_node("n0"))
    yield sync
    sync.close()


def jobs(sync: SyncTest) -> dict[tuple[str, str], Obj]:
    return {(e.name, j["metadata"]["annotations"][markers.EDGE_NODE]): j
            for e in sync.ctx.edges.values() for j in e.store(JOBS)}


def status(sync: SyncTest, name: str = "warm") -> Obj:
    obj = sync.ctx.tenants["tenant-a"].get(IMAGEPREWARMS, "shop", name)
    assert obj is not None
    found: Obj = obj.get("status") or {}
    return found


async def finish_all(sync: SyncTest, ok: bool = True) -> None:
    for (cluster, _node), job in jobs(sync).items():
        if "status" not in job:
            sync.put(sync.ctx.edges[cluster], JOBS, finished(job, ok))
    await sync.settle()


async def test_jobs_run_at_most_parallelism_and_status_counts_per_cluster(
        fleet: SyncTest) -> None:
    tenant = fleet.ctx.tenants["tenant-a"]
    fleet.put(tenant, IMAGEPREWARMS, prewarm(parallelism=2))
    await fleet.settle()
    assert len(jobs(fleet)) == 2
    assert status(fleet)["phase"] == "Running" and status(fleet)["desired"] == 4
    await finish_all(fleet)
    assert len(jobs(fleet)) == 4
    await finish_all(fleet)
    got = status(fleet)
    assert (got["phase"], got["succeeded"], got["failed"]) == ("Succeeded", 4, 0)
    assert {c["name"]: c["desired"] for c in got["clusters"]} == {"edge-1": 3, "edge-2": 1}
    assert "vn-edge-1-n0" in got["succeededNodes"] and got["completionTime"]
    # Every Job pinned to its node in the tenant's edge namespace.
    ens = fleet.edge_ns()
    assert all(j["metadata"]["namespace"] == ens and
               j["spec"]["template"]["spec"]["nodeName"] == node
               for (_c, node), j in jobs(fleet).items())


async def test_target_by_labels_and_region(fleet: SyncTest) -> None:
    tenant = fleet.ctx.tenants["tenant-a"]
    fleet.put(tenant, IMAGEPREWARMS, prewarm(target={
        "regions": ["r1"], "nodeSelector": {"matchLabels": {"nvidia.com/gpu.product": "A10"}}}))
    await fleet.settle()
    assert set(jobs(fleet)) == {("edge-1", "n2")}


async def test_failed_nodes_have_their_reason_and_credentials_reach_the_work(
        fleet: SyncTest) -> None:
    tenant = fleet.ctx.tenants["tenant-a"]
    image = f"{SERVER}/llm/qwen:7b"
    fleet.put(tenant, IMAGEPREWARMS, prewarm(images=[{"image": image}],
                                             target={"clusters": ["edge-2"]}))
    await fleet.settle()
    ((cluster, _node), job), = jobs(fleet).items()
    edge = fleet.ctx.edges[cluster]
    assert job["spec"]["template"]["spec"]["imagePullSecrets"] == [{"name": PULL_SECRET}]
    assert edge.get(SECRETS, fleet.edge_ns(), PULL_SECRET) is not None
    await finish_all(fleet, ok=False)
    got = status(fleet)
    assert got["phase"] == "Failed"
    assert got["failedNodes"] == [{"node": "vn-edge-2-n0", "cluster": "edge-2",
                                   "reason": "BackoffLimitExceeded",
                                   "message": "Job has reached the specified backoff limit"}]


async def test_ttl_removes_the_prewarm_and_its_jobs(fleet: SyncTest) -> None:
    tenant = fleet.ctx.tenants["tenant-a"]
    fleet.put(tenant, IMAGEPREWARMS, prewarm(ttlSecondsAfterFinished=0))
    await fleet.settle()
    await finish_all(fleet)
    assert status(fleet)["phase"] == "Succeeded"
    await asyncio.sleep(0.1)  # the finished ImagePrewarm is looked at again when its TTL ends
    await fleet.settle()
    assert tenant.get(IMAGEPREWARMS, "shop", "warm") is None
    assert not jobs(fleet)


async def test_an_invalid_spec_is_told_to_the_tenant(fleet: SyncTest) -> None:
    tenant = fleet.ctx.tenants["tenant-a"]
    fleet.put(tenant, IMAGEPREWARMS, prewarm(target={"nodeSelector": {"matchExpressions": [
        {"key": "a", "operator": "Gt", "values": ["x"]}]}}))
    await fleet.settle()
    assert status(fleet)["phase"] == "Failed" and "Gt needs" in status(fleet)["message"]
    assert not jobs(fleet)
    assert any(c.verb == "create" and c.body["reason"] == "InvalidSpec"
               for c in fleet.client(tenant).writes(EVENTS))
