"""Failover decisions for tenant pods and leftover edge pods (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from syncer.core import markers
from syncer.failover.plan import (
    REASON,
    UNREACHABLE,
    PodAction,
    disruption_conditions,
    failed_status,
    leftovers,
    not_ready_conditions,
    plan_pod,
)
from tests.builders import pod

Obj = dict[str, Any]
LOST_AT = 1_800_000_000.0  # 2027-01-15T08:00:00Z


def bound(owner: str | None = None, *, phase: str = "Running", cluster: str = "edge-gz",
          **status: Any) -> Obj:
    p = pod("shop", "web", uid="u1")
    if owner:
        p["metadata"]["ownerReferences"] = [{"kind": owner, "name": "o", "uid": "o1",
                                             "controller": True, "apiVersion": "apps/v1"}]
    p["metadata"]["annotations"] = {markers.EDGE_CLUSTER: cluster}
    p["spec"]["nodeName"] = f"vn-{cluster}-n1"
    p["status"] = {"phase": phase, **status}
    return p


NOT_READY = [{"type": "Ready", "status": "False", "reason": UNREACHABLE}]


@pytest.mark.parametrize(("p", "moving", "oos", "want"), [
    (bound("ReplicaSet"), False, False, PodAction.MARK_NOT_READY),
    (bound("ReplicaSet", conditions=NOT_READY), False, False, PodAction.NONE),
    (bound("ReplicaSet"), True, False, PodAction.MOVE),
    (bound("Job"), True, False, PodAction.MOVE),
    (bound(None), True, False, PodAction.FAIL),
    (bound(None), False, False, PodAction.MARK_NOT_READY),
    (bound("StatefulSet"), True, False, PodAction.MARK_NOT_READY),  # never on a timeout
    (bound("StatefulSet", conditions=NOT_READY), True, False, PodAction.NONE),
    (bound("StatefulSet"), True, True, PodAction.MOVE),
    (bound("StatefulSet"), False, True, PodAction.MOVE),  # out of service: at once
    (bound("DaemonSet", conditions=NOT_READY), True, True, PodAction.NONE),
    (bound("ReplicaSet", phase="Succeeded"), True, False, PodAction.NONE),
    (bound("ReplicaSet", phase="Failed"), True, False, PodAction.NONE),
])
def test_plan_pod(p: Obj, moving: bool, oos: bool, want: PodAction) -> None:
    assert plan_pod(p, moving=moving, out_of_service=oos) is want


def test_a_terminating_pod_is_left_to_the_pod_syncer() -> None:
    p = bound("ReplicaSet")
    p["metadata"]["deletionTimestamp"] = "2027-01-15T08:00:00Z"
    assert plan_pod(p, moving=True, out_of_service=False) is PodAction.NONE


def test_patches_name_the_edge_cluster() -> None:
    p = bound("ReplicaSet", conditions=[{"type": "Ready", "status": "True"},
                                        {"type": "PodScheduled", "status": "True"}])
    conds = {c["type"]: c for c in not_ready_conditions(p, "edge-gz", "T")}
    assert conds["Ready"]["status"] == "False" and "edge-gz" in conds["Ready"]["message"]
    assert conds["PodScheduled"]["status"] == "True"
    target = {c["type"]: c for c in disruption_conditions(p, "edge-gz")}["DisruptionTarget"]
    assert (target["status"], target["reason"]) == ("True", REASON)
    failed = failed_status(bound(None), "edge-gz")
    assert (failed["phase"], failed["reason"]) == ("Failed", REASON)


def edge_copy(name: str, uid: str, *, created: str = "2027-01-15T07:00:00Z",
              tenant: str = "tenant-a") -> Obj:
    return {"metadata": {"name": name, "namespace": "t-shop", "uid": f"e-{uid}",
                         "creationTimestamp": created,
                         "labels": markers.marker_labels(tenant),
                         "annotations": {markers.TENANT_NAMESPACE: "shop",
                                         markers.TENANT_NAME: name, markers.TENANT_UID: uid}}}


def test_leftovers_are_copies_of_pods_that_no_longer_run_there() -> None:
    stays = bound("StatefulSet")  # waited, never moved: kept
    stays["metadata"].update(name="db-0", uid="db0")
    failed = bound(None, phase="Failed", reason=REASON)
    failed["metadata"].update(name="bare", uid="bare")
    moved_sts = bound("StatefulSet", cluster="edge-bj")  # same name, new UID, elsewhere
    moved_sts["metadata"].update(name="db-1", uid="db1-new")
    tenant_pods = {"tenant-a": {p["metadata"]["uid"]: p for p in (stays, failed, moved_sts)}}
    edge_pods = [
        edge_copy("db-0", "db0"),
        edge_copy("bare", "bare"),
        edge_copy("db-1", "db1-old"),
        edge_copy("web-x", "gone"),  # a ReplicaSet pod deleted by failover
        edge_copy("new", "gone2", created="2027-01-15T08:05:00Z"),  # after the loss: untouched
        edge_copy("other", "gone3", tenant="tenant-b"),  # tenant not re-listed: untouched
    ]
    chosen = [p["metadata"]["name"] for p in leftovers("edge-gz", edge_pods, tenant_pods,
                                                       LOST_AT)]
    assert chosen == ["bare", "db-1", "web-x"]
