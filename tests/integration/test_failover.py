"""Failover and failback on real clusters: an edge kube-apiserver is stopped and started.

Each test shortens the lost cluster's grace period (spec.failover) and puts it back at the
end. Pods are spread over edge-bj and edge-gz (node affinity on the two regions, a
spread-first policy for tenant-a); edge-gz is the one that goes away.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.builders import pod, pod_spec

from .kube_helpers import (
    apply,
    deployment,
    edge_ns,
    get_json,
    items,
    namespace,
    unique,
    wait_controllers_caught_up,
)
from .sandbox_fixture import SandboxHandle
from .syncer_fixture import SyncerProcess, metric_samples, wait_for

Obj = dict[str, Any]
LOST, OTHER = "edge-gz", "edge-bj"
GRACE, STABLE = 15, 5
REGIONS = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
    "nodeSelectorTerms": [{"matchExpressions": [{
        "key": "topology.kubernetes.io/region", "operator": "In",
        "values": ["cn-beijing", "cn-guangzhou"]}]}]}}}


def set_failover(sandbox: SandboxHandle, edge: str, **spec: Any) -> None:
    sandbox["management"].kubectl("patch", "edgecluster", edge, "--type=merge", "-p",
                                  json.dumps({"spec": spec}))


def failover_phase(sandbox: SandboxHandle, edge: str = LOST) -> str:
    ec = get_json(sandbox["management"], "edgecluster", edge)
    phase: str = ((ec.get("status") or {}).get("failover") or {}).get("phase", "")
    return phase


def edge_up(sandbox: SandboxHandle, edge: str = LOST) -> bool:
    return sandbox[edge].kubectl("get", "--raw", "/readyz", check=False,
                                 timeout=10).returncode == 0


def edge_ready(sandbox: SandboxHandle, edge: str = LOST) -> bool:
    conds = (get_json(sandbox["management"], "edgecluster", edge).get("status") or {}).get(
        "conditions") or []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conds)


@pytest.fixture
def outage(sandbox: SandboxHandle, syncer: SyncerProcess) -> Iterator[None]:
    """Short failover timings on edge-gz, spread-first placement; all restored afterwards."""
    if syncer.proc is not None and syncer.proc.poll() is not None:
        # It exited (a Lease it could not renew on this loaded machine): as its Deployment
        # would, start it again.
        syncer.start()
    mgmt = sandbox["management"]
    before = get_json(mgmt, "tenant", "tenant-a")["spec"]["scheduling"]
    mgmt.kubectl("patch", "tenant", "tenant-a", "--type=merge", "-p", json.dumps(
        {"spec": {"scheduling": {"mode": "balanced", "userRegions": ["cn-beijing"],
                                 "weights": {"latency": 0, "cost": 0, "spread": 10}}}}))
    set_failover(sandbox, LOST, failover={"gracePeriodSeconds": GRACE,
                                          "recoveryStableSeconds": STABLE})
    # After an earlier test's outage, edge-gz's informers may still be in their backoff:
    # placement avoids it until every watch runs again (its Ready condition).
    wait_for(lambda: edge_ready(sandbox), 90, "edge-gz Ready", every=2)
    # An earlier module may have stopped another edge (test_edge_dns stops edge-sh): until
    # it is re-admitted, placement and these tests' counts would not be what they expect.
    wait_for(lambda: all(failover_phase(sandbox, e) == "Reachable"
                         for e in ("edge-bj", "edge-sh", "edge-gz")), 180,
             "every edge cluster re-admitted", every=2)
    yield
    if not edge_up(sandbox):
        sandbox.run("start", f"{LOST}-apiserver", check=False)
    set_failover(sandbox, LOST, failover=None, outOfService=False)
    mgmt.kubectl("patch", "tenant", "tenant-a", "--type=json", "-p", json.dumps(
        [{"op": "replace", "path": "/spec/scheduling", "value": before}]))
    wait_for(lambda: edge_up(sandbox) and failover_phase(sandbox) == "Reachable", 180,
             "edge-gz re-admitted", every=2)


def tenant_pods(sandbox: SandboxHandle, ns: str, tenant: str = "tenant-a") -> list[Obj]:
    return items(sandbox[tenant], "pods", "-n", ns)


def cluster_of(pod: Obj) -> str:
    return str((pod["metadata"].get("annotations") or {}).get("fusionvc.io/edge-cluster", ""))


def ready(pod: Obj) -> str:
    return next((c.get("status", "") for c in pod["status"].get("conditions") or []
                 if c["type"] == "Ready"), "")


def running_on(sandbox: SandboxHandle, ns: str, edges: set[str], replicas: int,
               tenant: str = "tenant-a") -> bool:
    pods = tenant_pods(sandbox, ns, tenant)
    live = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
    return (len(pods) == replicas and len(live) == replicas
            and all(p["status"].get("phase") == "Running" and cluster_of(p) in edges
                    for p in live))


def spread_deployment(sandbox: SandboxHandle, ns: str, replicas: int) -> None:
    apply(sandbox["tenant-a"], namespace(ns),
          deployment(ns, "web", replicas, pod_spec={"affinity": REGIONS}))
    wait_for(lambda: running_on(sandbox, ns, {LOST, OTHER}, replicas), 180,
             f"{replicas} replicas running", every=2)


def edge_uids(sandbox: SandboxHandle, edge: str, ens: str) -> set[str]:
    return {p["metadata"]["uid"] for p in items(sandbox[edge], "pods", "-n", ens)
            if not p["metadata"].get("deletionTimestamp")}


def test_sandbox_edge_pods_become_ready_again(sandbox: SandboxHandle) -> None:
    """The edge's node lifecycle controller marks pods NotReady while the edge API server is
    away; the kwok stage config/kwok/pod-ready-again.yaml makes them Ready again."""
    edge, ns = sandbox[OTHER], unique("kwok")
    edge.kubectl("create", "namespace", ns)
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": ns},
           "spec": {"nodeName": "bj-cpu-0", "containers": [{"name": "c", "image": "x"}]}}
    edge.kubectl("apply", "-f", "-", stdin=json.dumps(pod))
    wait_for(lambda: ready(get_json(edge, "pod", "p", "-n", ns)) == "True", 60, "pod Ready")
    edge.kubectl("-n", ns, "patch", "pod", "p", "--subresource=status", "--type=merge", "-p",
                 json.dumps({"status": {"conditions": [
                     {"type": "Ready", "status": "False", "reason": "NodeNotReady"}]}}))
    wait_for(lambda: ready(get_json(edge, "pod", "p", "-n", ns)) == "True", 60,
             "pod Ready again")
    edge.kubectl("delete", "namespace", ns, "--wait=false")


def test_deployment_leaves_a_lost_edge_and_leftovers_go_on_return(
        sandbox: SandboxHandle, syncer: SyncerProcess, outage: None) -> None:
    ns, replicas = unique("fo"), 8
    spread_deployment(sandbox, ns, replicas)
    ens = edge_ns(sandbox, "tenant-a", ns)
    on_lost = {p["metadata"]["name"] for p in tenant_pods(sandbox, ns) if cluster_of(p) == LOST}
    assert on_lost, "spread placed nothing on edge-gz"
    stale = edge_uids(sandbox, LOST, ens)
    lost_at = time.monotonic()  # before the stop command, which itself takes seconds
    sandbox.run("stop", f"{LOST}-apiserver")

    def unready_and_unknown() -> bool:
        pods = {p["metadata"]["name"]: p for p in tenant_pods(sandbox, ns)}
        nodes = [n for n in items(sandbox["tenant-a"], "nodes")
                 if n["metadata"]["labels"].get("fusionvc.io/edge-cluster") == LOST]
        node_ready = [next(c for c in n["status"]["conditions"] if c["type"] == "Ready")
                      for n in nodes]
        return all(n in pods and ready(pods[n]) == "False" for n in on_lost) and all(
            c["status"] == "Unknown" and LOST in c["message"] for c in node_ready)
    wait_for(unready_and_unknown, GRACE, "pods NotReady and virtual nodes Unknown", every=1)
    wait_for(lambda: running_on(sandbox, ns, {OTHER}, replicas), GRACE + 60,
             "all replicas running on edge-bj", every=1)
    moved_in = time.monotonic() - lost_at
    print(f"\nall {replicas} replicas running elsewhere {moved_in:.1f}s after the loss "
          f"(grace {GRACE}s)")
    assert moved_in <= GRACE + 30 + 15  # goal grace + 30 s; 15 s for this shared machine
    assert failover_phase(sandbox) == "FailedOver"
    events = items(sandbox["tenant-a"], "events", "-n", ns)
    assert {"EdgeClusterLost", "Rescheduled"} <= {e["reason"] for e in events}
    new = edge_uids(sandbox, OTHER, ens)
    sandbox.run("start", f"{LOST}-apiserver")
    wait_for(lambda: failover_phase(sandbox) == "Reachable", 120, "re-admitted", every=2)
    wait_for(lambda: not edge_uids(sandbox, LOST, ens) & stale, 60, "leftovers deleted")
    assert edge_uids(sandbox, OTHER, ens) == new, "no new copy touched"
    assert running_on(sandbox, ns, {OTHER}, replicas), "nothing moved back"
    families = syncer.metrics()
    assert sum(metric_samples(families, "fusionvc_failovers_total", cluster=LOST)) >= 1
    assert sum(metric_samples(families, "fusionvc_failover_pods_total", cluster=LOST,
                              action="leftover_deleted")) >= len(stale)
    sandbox["tenant-a"].kubectl("delete", "namespace", ns, "--wait=false")


GZ_ONLY = {"topology.kubernetes.io/region": "cn-guangzhou"}
KEEP_RUNNING = "pod-complete.stage.kwok.x-k8s.io/delay"  # the sandbox completes Job pods


def test_job_pod_is_replaced_and_bare_pod_fails_and_the_scheduler_names_the_lost_cluster(
        sandbox: SandboxHandle, syncer: SyncerProcess, outage: None) -> None:
    """A Job's pod gets DisruptionTarget and is removed, so the Job makes a new one; pinned to
    the lost cluster, that one waits with a reason naming it. A bare pod is marked Failed."""
    tenant, ns = sandbox["tenant-a"], unique("fojob")
    # The Job's pods "run" for an hour, well past the outage.
    template = {"metadata": {"labels": {"app": "batch"}, "annotations": {KEEP_RUNNING: "1h"}},
                "spec": pod_spec(restartPolicy="Never", nodeSelector=GZ_ONLY)}
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "batch", "namespace": ns},
           "spec": {"backoffLimit": 6, "template": template}}
    solo = pod(ns, "solo", spec=pod_spec(nodeSelector=GZ_ONLY))
    del solo["status"]
    apply(tenant, namespace(ns), job, solo)

    def running_on_lost() -> bool:
        pods = tenant_pods(sandbox, ns)
        return len(pods) == 2 and all(p["status"].get("phase") == "Running"
                                      and cluster_of(p) == LOST for p in pods)
    wait_for(running_on_lost, 180, "job pod and bare pod running on edge-gz", every=2)
    first = next(p["metadata"]["uid"] for p in tenant_pods(sandbox, ns)
                 if p["metadata"]["name"] != "solo")
    sandbox.run("stop", f"{LOST}-apiserver")
    wait_for(lambda: failover_phase(sandbox) == "FailedOver", GRACE + 60, "failed over",
             every=1)

    def bare_failed() -> Obj | None:
        found = get_json(tenant, "pod", "solo", "-n", ns)
        return found if found["status"].get("phase") == "Failed" else None
    failed = wait_for(bare_failed, 60, "bare pod Failed", every=1)
    assert failed["status"]["reason"] == "EdgeClusterLost" and LOST in failed["status"]["message"]

    def replacement() -> Obj | None:
        pods = [p for p in tenant_pods(sandbox, ns) if p["metadata"]["name"] != "solo"]
        return next((p for p in pods if p["metadata"]["uid"] != first), None)
    new = wait_for(replacement, 60, "the Job made a replacement pod", every=1)
    assert all(p["metadata"]["uid"] != first for p in tenant_pods(sandbox, ns))

    def waits_naming_lost() -> str:
        got = get_json(tenant, "pod", new["metadata"]["name"], "-n", ns)
        cond: Obj = next((c for c in got["status"].get("conditions") or []
                     if c["type"] == "PodScheduled"), {})
        return str(cond.get("message", "")) if cond.get("status") == "False" else ""
    message = wait_for(waits_naming_lost, 60, "replacement Unschedulable", every=1)
    assert f"edge cluster {LOST}, which is unreachable" in message
    sandbox.run("start", f"{LOST}-apiserver")
    wait_for(lambda: failover_phase(sandbox) == "Reachable", 120, "re-admitted", every=2)
    def replacement_runs() -> bool:
        again = replacement()
        return again is not None and again["status"].get("phase") == "Running"
    wait_for(replacement_runs, 120, "replacement runs once edge-gz is back", every=2)
    tenant.kubectl("delete", "namespace", ns, "--wait=false")


def test_a_flap_shorter_than_the_grace_period_changes_nothing(
        sandbox: SandboxHandle, syncer: SyncerProcess, outage: None) -> None:
    set_failover(sandbox, LOST, failover={"gracePeriodSeconds": 60, "recoveryStableSeconds": 5})
    ns, replicas = unique("flap"), 6
    spread_deployment(sandbox, ns, replicas)
    ens = edge_ns(sandbox, "tenant-a", ns)
    tenant_before = {p["metadata"]["uid"] for p in tenant_pods(sandbox, ns)}
    edge_before = edge_uids(sandbox, LOST, ens)
    sandbox.run("stop", f"{LOST}-apiserver")
    wait_for(lambda: failover_phase(sandbox) == "Lost", 30, "edge-gz seen lost", every=1)
    time.sleep(max(0.0, 20 - 6))
    sandbox.run("start", f"{LOST}-apiserver")
    wait_for(lambda: failover_phase(sandbox) == "Reachable", 60, "reachable again", every=2)
    wait_for(lambda: all(ready(p) == "True" for p in tenant_pods(sandbox, ns)), 90,
             "every pod Ready again", every=2)
    assert {p["metadata"]["uid"] for p in tenant_pods(sandbox, ns)} == tenant_before
    assert edge_uids(sandbox, LOST, ens) == edge_before
    sandbox["tenant-a"].kubectl("delete", "namespace", ns, "--wait=false")


def test_statefulset_pod_moves_only_once_out_of_service(
        sandbox: SandboxHandle, syncer: SyncerProcess, outage: None) -> None:
    """tenant-b (cost-first) runs on edge-gz, the cheapest cluster."""
    ns, tenant = unique("sts"), "tenant-b"
    template = deployment(ns, "db", 1)["spec"]["template"]
    sts = {"apiVersion": "apps/v1", "kind": "StatefulSet",
           "metadata": {"name": "db", "namespace": ns},
           "spec": {"replicas": 1, "serviceName": "db",
                    "selector": {"matchLabels": {"app": "db"}}, "template": template}}
    apply(sandbox[tenant], namespace(ns), sts)
    wait_for(lambda: running_on(sandbox, ns, {LOST}, 1, tenant), 180, "db-0 on edge-gz",
             every=2)
    uid = get_json(sandbox[tenant], "pod", "db-0", "-n", ns)["metadata"]["uid"]
    sandbox.run("stop", f"{LOST}-apiserver")
    wait_for(lambda: failover_phase(sandbox) == "FailedOver", GRACE + 60, "failed over",
             every=2)
    time.sleep(10)
    db0 = get_json(sandbox[tenant], "pod", "db-0", "-n", ns)
    assert db0["metadata"]["uid"] == uid and ready(db0) == "False", "waits, NotReady"
    set_failover(sandbox, LOST, outOfService=True)
    wait_for(lambda: running_on(sandbox, ns, {"edge-bj", "edge-sh"}, 1, tenant), 120,
             "db-0 running on another cluster", every=2)
    assert get_json(sandbox[tenant], "pod", "db-0", "-n", ns)["metadata"]["uid"] != uid
    ens = edge_ns(sandbox, tenant, ns)
    set_failover(sandbox, LOST, outOfService=False)
    sandbox.run("start", f"{LOST}-apiserver")
    wait_for(lambda: failover_phase(sandbox) == "Reachable", 120, "re-admitted", every=2)
    wait_for(lambda: not edge_uids(sandbox, LOST, ens), 60, "the old db-0 copy deleted")
    sandbox[tenant].kubectl("delete", "namespace", ns, "--wait=false")


def test_syncer_killed_mid_failover_finishes_without_duplicates(
        sandbox: SandboxHandle, syncer: SyncerProcess, outage: None) -> None:
    ns, replicas = unique("kill"), 30
    spread_deployment(sandbox, ns, replicas)
    ens = edge_ns(sandbox, "tenant-a", ns)
    sandbox.run("stop", f"{LOST}-apiserver")
    wait_for(lambda: failover_phase(sandbox) == "FailedOver", GRACE + 60, "failing over",
             every=0.5)
    syncer.kill()
    syncer.start()
    wait_for(lambda: running_on(sandbox, ns, {OTHER}, replicas), 180,
             "all replicas running on edge-bj after the restart", every=2)
    names = [p["metadata"]["name"] for p in items(sandbox[OTHER], "pods", "-n", ens)
             if not p["metadata"].get("deletionTimestamp")]
    assert len(names) == len(set(names)) == replicas, "one edge copy per tenant pod"
    sandbox.run("start", f"{LOST}-apiserver")
    wait_for(lambda: failover_phase(sandbox) == "Reachable", 120, "re-admitted", every=2)
    wait_for(lambda: not edge_uids(sandbox, LOST, ens), 90, "leftovers deleted", every=2)
    sandbox["tenant-a"].kubectl("delete", "namespace", ns, "--wait=false")


def test_management_or_tenant_apiserver_restart_is_not_an_edge_loss(
        sandbox: SandboxHandle, syncer: SyncerProcess, outage: None) -> None:
    ns, replicas = unique("ctl"), 4
    spread_deployment(sandbox, ns, replicas)
    before = {p["metadata"]["uid"] for p in tenant_pods(sandbox, ns)}
    # The management restart stays within the leader Lease (15 s); the tenant's lasts longer
    # than edge-gz's grace period.
    for proc, down in (("management-apiserver", 8), ("tenant-a-apiserver", GRACE + 5)):
        sandbox.run("stop", proc)
        time.sleep(down)
        sandbox.run("start", proc)
        wait_for(lambda p=proc: sandbox[p.removesuffix("-apiserver")].kubectl(
            "get", "--raw", "/readyz", check=False).returncode == 0, 60, f"{proc} back")
        if syncer.proc is not None and syncer.proc.poll() is not None:
            # A leader that could not renew its Lease exits; its Deployment restarts it.
            syncer.start()
    time.sleep(5)
    assert {failover_phase(sandbox, e) for e in ("edge-bj", "edge-sh", "edge-gz")} == {
        "Reachable"}
    wait_for(lambda: running_on(sandbox, ns, {LOST, OTHER}, replicas), 90, "still running")
    assert {p["metadata"]["uid"] for p in tenant_pods(sandbox, ns)} == before
    assert not [e for e in items(sandbox["tenant-a"], "events", "-n", ns)
                if e["reason"] == "EdgeClusterLost"]
    sandbox["tenant-a"].kubectl("delete", "namespace", ns, "--wait=false")
    wait_controllers_caught_up(sandbox["tenant-a"])  # for the next module's tests
