"""The tenant's budget for EdgeDataset transfers (Tenant.spec.datasets): parsing, admission
(pure), the Jobs held back with their reason in status and a Warning Event, then started once
a transfer ends; and a copy the edge refuses a claim for is not ready (status, placement)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from scheduler import Placement, Unschedulable
from scheduler.datasets import DATASETS_ANNOTATION
from syncer.core.keys import WorkKey
from syncer.kinds.dataset_pending import Pending, readiness, with_pending
from syncer.kinds.dataset_quota import (
    DatasetQuota,
    Hold,
    QuotaError,
    TransferLedger,
    Usage,
    admit,
    job_usage,
    parse_dataset_quota,
)
from syncer.kinds.edge_targets import NodeState, Target
from syncer.kube import Obj
from syncer.kube.apis import EDGEDATASETS, EVENTS, JOBS, PODS, PVCS
from syncer.kube.client import KubeError
from syncer.warm_nodes import PROVIDES

from .harness import SyncTest
from .test_edgedatasets import (
    bind_claims,
    dataset,
    downloads,
    finish,
    finished,
    status,
    two_edges,
    work_pod,
)

T1, T2 = Target("edge-1", "n1"), Target("edge-2", "n1")


# ---- pure -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "want"), [
    (None, DatasetQuota()),
    ({}, DatasetQuota()),
    ({"maxConcurrentTransfers": 2}, DatasetQuota(2, None)),
    ({"maxBytes": "10Gi"}, DatasetQuota(None, 10 * 2**30)),
    ({"maxBytes": 5000, "maxConcurrentTransfers": 1}, DatasetQuota(1, 5000)),
])
def test_the_budget_is_read_from_the_tenant_spec(raw: Obj | None, want: DatasetQuota) -> None:
    assert parse_dataset_quota(raw) == want


@pytest.mark.parametrize("raw", [{"maxConcurrentTransfers": 0},
                                 {"maxConcurrentTransfers": True},
                                 {"maxConcurrentTransfers": "2"},
                                 {"maxBytes": "lots"}, {"maxBytes": "-1"}])
def test_a_bad_budget_is_an_error_naming_the_field(raw: Obj) -> None:
    with pytest.raises(QuotaError, match=r"spec\.datasets\."):
        parse_dataset_quota(raw)


@pytest.mark.parametrize(("quota", "usage", "target", "size", "reason"), [
    (DatasetQuota(), Usage({"edge-1": 50}, 10**15), T1, 10, None),
    (DatasetQuota(2), Usage({"edge-1": 1}), T1, 10, None),
    (DatasetQuota(2), Usage({"edge-1": 2}), T1, 10, "TransferLimit"),
    (DatasetQuota(2), Usage({"edge-1": 2}), T2, 10, None),  # per edge cluster
    (DatasetQuota(None, 100), Usage({}, 90), T1, 10, None),
    (DatasetQuota(None, 100), Usage({}, 91), T1, 10, "StorageBudget"),
    (DatasetQuota(None, 100), Usage({}, 0), T1, 0, "StorageBudget"),  # size unknown
])
def test_admission(quota: DatasetQuota, usage: Usage, target: Target, size: int,
                   reason: str | None) -> None:
    hold = admit(quota, usage, target, size)
    assert (hold.reason if hold else None) == reason


def job(name: str, size: int, deleting: bool = False) -> Obj:
    meta: Obj = {"name": name}
    if deleting:
        meta["deletionTimestamp"] = "2026-12-01T00:00:00Z"
    return {"metadata": meta, "spec": {"template": {"metadata": {"annotations": {
        PROVIDES: f'{{"datasets.fusionvc.io/t/ns/{name}": {size}}}'}}}}}


def test_usage_counts_running_transfers_and_the_bytes_of_kept_copies() -> None:
    usage = job_usage([("edge-1", job("a", 10), NodeState("active")),
                       ("edge-1", job("b", 20), NodeState("succeeded")),
                       ("edge-2", job("c", 40), NodeState("active")),
                       ("edge-2", job("d", 80), NodeState("failed")),
                       ("edge-2", job("e", 160, deleting=True), NodeState("active"))])
    assert usage == Usage({"edge-1": 1, "edge-2": 1}, 70)


def test_the_ledger_counts_started_jobs_until_the_cache_shows_them() -> None:
    now = [0.0]
    ledger = TransferLedger(clock=lambda: now[0])
    ledger.reserve("t", "a", "edge-1", 10)
    assert ledger.usage("t", []) == Usage({"edge-1": 1}, 10)
    assert ledger.usage("other", []) == Usage()
    seen = [("edge-1", job("a", 10), NodeState("active"))]
    assert ledger.usage("t", seen) == Usage({"edge-1": 1}, 10)  # not counted twice
    ledger.reserve("t", "b", "edge-1", 5)
    now[0] = 61.0
    assert ledger.usage("t", []) == Usage()  # expired


def test_pending_nodes_say_why_and_do_not_count_as_ready() -> None:
    states = {T1: NodeState("succeeded"), T2: NodeState("succeeded"),
              Target("edge-1", "n2"): None, Target("edge-1", "n3"): NodeState("succeeded")}
    held = {Target("edge-1", "n2"): Hold("TransferLimit", "2 transfers run")}
    shown, pending = readiness(states, {T1: "Bound", T2: None,
                                        Target("edge-1", "n3"): "Pending"},
                               {T2: "edge-2 refused it"}, held)
    assert shown[T1] == NodeState("succeeded") and shown[T2] is None
    assert pending == {T2: Pending("VolumeRefused", "edge-2 refused it"),
                       Target("edge-1", "n2"): Pending("TransferLimit", "2 transfers run"),
                       Target("edge-1", "n3"): Pending(
                           "VolumePending",
                           "downloaded; its PersistentVolumeClaim is Pending, not Bound yet")}
    out = with_pending({"message": "1/4 nodes ready"}, pending)
    assert out["message"] == "1/4 nodes ready; 3 waiting (TransferLimit, VolumePending, " \
                             "VolumeRefused)"
    assert [p["node"] for p in out["pendingNodes"]] == [
        "vn-edge-1-n2", "vn-edge-1-n3", "vn-edge-2-n1"]


# ---- on the syncer --------------------------------------------------------------------------


@pytest.fixture
def budgeted() -> Iterator[SyncTest]:
    """tenant-a (at most 2 transfers per cluster, 10 GB); edge-1 with n0..n3, edge-2 with n0."""
    sync = two_edges(4, {"datasets": {"maxConcurrentTransfers": 2, "maxBytes": "10G"}})
    yield sync
    sync.close()


async def retry(sync: SyncTest, name: str) -> None:
    """What the reconcile's HELD_RETRY does later: the EdgeDataset is looked at again."""
    sync.ctx.queue.add(WorkKey("tenant-a", "EdgeDataset", "shop", name))
    await sync.settle()


def warnings(sync: SyncTest, reason: str) -> list[str]:
    return [c.body["message"] for c in sync.client(sync.ctx.tenants["tenant-a"]).writes(EVENTS)
            if c.verb == "create" and c.body["reason"] == reason]


async def test_the_transfer_cap_holds_copies_back_then_lets_them_start(
        budgeted: SyncTest) -> None:
    tenant = budgeted.ctx.tenants["tenant-a"]
    small = {"source": {"url": "http://127.0.0.1/m.bin", "sha256": "ab" * 32,
                        "sizeBytes": 1_000_000}}
    budgeted.put(tenant, EDGEDATASETS, {**dataset(), "spec": {**small}})
    await budgeted.settle()
    started = downloads(budgeted)
    assert sorted(started) == [("edge-1", "n0"), ("edge-1", "n1"), ("edge-2", "n0")]
    got = status(budgeted)
    assert {p["node"]: p["reason"] for p in got["pendingNodes"]} == {
        "vn-edge-1-n2": "TransferLimit", "vn-edge-1-n3": "TransferLimit"}
    assert "maxConcurrentTransfers (2)" in got["pendingNodes"][0]["message"]
    assert "2 waiting (TransferLimit)" in got["message"]
    (told,) = warnings(budgeted, "TransferHeld")
    assert "maxConcurrentTransfers" in told
    # Another EdgeDataset of the tenant shares the same two slots of edge-1.
    budgeted.put(tenant, EDGEDATASETS, {**dataset("other"), "spec": {
        **small, "target": {"clusters": ["edge-1"]}}})
    await budgeted.settle()
    assert not [k for k, j in downloads(budgeted).items()
                if j["metadata"]["annotations"]["fusionvc.io/tenant-name"] == "other"]
    await finish(budgeted)  # the running transfers end: the held ones start
    await retry(budgeted, "other")  # still held: qwen's waiting copies took the slots
    assert len(downloads(budgeted)) == 5
    assert len(warnings(budgeted, "TransferHeld")) == 2  # once per EdgeDataset


async def test_the_storage_budget_holds_a_copy_that_does_not_fit(budgeted: SyncTest) -> None:
    tenant = budgeted.ctx.tenants["tenant-a"]
    budgeted.put(tenant, EDGEDATASETS, dataset(target={"clusters": ["edge-2"]}))  # 4 GB
    await budgeted.settle()
    budgeted.put(tenant, EDGEDATASETS, dataset("big", target={"clusters": ["edge-1"]},
                                               copiesPerRegion=2))
    await budgeted.settle()
    big = [j for j in downloads(budgeted).values()
           if j["metadata"]["annotations"]["fusionvc.io/tenant-name"] == "big"]
    assert len(big) == 1  # 4 GB + 4 GB fit in 10 GB, a third copy does not
    held = status(budgeted, "big")["pendingNodes"]
    assert [p["reason"] for p in held] == ["StorageBudget"]
    assert "maxBytes (10000000000)" in held[0]["message"]
    budgeted.remove(tenant, EDGEDATASETS, "shop", "qwen")  # its copy goes: room again
    await budgeted.settle()
    await retry(budgeted, "big")
    assert len([j for j in downloads(budgeted).values()
                if j["metadata"]["annotations"]["fusionvc.io/tenant-name"] == "big"]) == 2


async def test_a_refused_claim_keeps_the_node_out_of_placement(budgeted: SyncTest) -> None:
    tenant, edge = budgeted.ctx.tenants["tenant-a"], budgeted.ctx.edges["edge-2"]
    budgeted.put(tenant, EDGEDATASETS, dataset(target={"clusters": ["edge-2"]}))
    await budgeted.settle()
    budgeted.client(edge).fail[("create", PVCS.plural)] = KubeError(
        403, "Forbidden", f"exceeded quota: q in {budgeted.edge_ns()}")
    (download,) = downloads(budgeted).values()
    budgeted.put(edge, PODS, work_pod(download, "Succeeded"))
    budgeted.put(edge, JOBS, finished(download, True))
    await budgeted.settle()
    got = status(budgeted)
    assert got["readyNodes"] == [] and got["phase"] == "Distributing"
    (pending,) = got["pendingNodes"]
    assert (pending["node"], pending["reason"]) == ("vn-edge-2-n0", "VolumeRefused")
    assert "exceeded quota: q in shop" in pending["message"]
    needs = {"metadata": {"name": "infer", "namespace": "shop",
                          "annotations": {DATASETS_ANNOTATION: "qwen"}},
             "spec": {"containers": [{"name": "c", "image": "app:1"}]}}
    assert isinstance(budgeted.placer.place(tenant, needs), Unschedulable)
    assert any("exceeded quota: q in shop" in m for m in warnings(budgeted, "VolumeRefused"))
    del budgeted.client(edge).fail[("create", PVCS.plural)]  # the quota has room again
    await retry(budgeted, "qwen")
    await bind_claims(budgeted)
    assert isinstance(budgeted.placer.place(tenant, needs), Placement)
    assert status(budgeted)["readyNodes"] == ["vn-edge-2-n0"]
