"""A tenant pod behaves like a Kubernetes pod: generation, in-place updates, scheduling gates.

Each case follows the Kubernetes documentation of the behaviour, with kubectl as a tenant
types it, against the real tenant and edge API servers of the sandbox.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import partial
from typing import Any

import pytest

from tests.builders import container, pod, pod_spec

from .kube_helpers import EDGES, apply, edge_ns, get_json, items, namespace, unique
from .sandbox_fixture import Cluster, SandboxHandle
from .syncer_fixture import SyncerProcess, wait_for

Obj = dict[str, Any]


@pytest.fixture
def ns(sandbox: SandboxHandle, syncer: SyncerProcess) -> Iterator[str]:
    name = unique("podsem")
    apply(sandbox["tenant-a"], namespace(name))
    yield name
    sandbox["tenant-a"].kubectl("delete", "namespace", name, "--wait=false")


def tenant_pod(tenant: Cluster, ns: str, name: str) -> Obj:
    return get_json(tenant, "pod", name, "-n", ns)


def edge_copy(sandbox: SandboxHandle, ns: str, name: str) -> Obj | None:
    tpod = tenant_pod(sandbox["tenant-a"], ns, name)
    cluster = (tpod["metadata"].get("annotations") or {}).get("fusionvc.io/edge-cluster")
    if not cluster:
        return None
    out = sandbox[cluster].kubectl("get", "pod", name, "-n", edge_ns(sandbox, "tenant-a", ns),
                                   "-o", "json", check=False)
    return json.loads(out.stdout) if out.returncode == 0 else None


def running(tenant: Cluster, ns: str, name: str) -> bool:
    return tenant_pod(tenant, ns, name)["status"].get("phase") == "Running"


def observed(tenant: Cluster, ns: str, name: str) -> bool:
    current = tenant_pod(tenant, ns, name)
    generation = current["metadata"].get("generation")
    status = current["status"]
    conds = [c.get("observedGeneration") for c in status.get("conditions") or []]
    return bool(generation) and status.get("observedGeneration") == generation and all(
        c == generation for c in conds)


def test_observed_generation_follows_spec_updates_that_reach_the_edge(
        sandbox: SandboxHandle, ns: str) -> None:
    tenant = sandbox["tenant-a"]
    apply(tenant, pod(ns, "gen"))
    wait_for(lambda: running(tenant, ns, "gen"), 90, "the pod Running")
    wait_for(lambda: observed(tenant, ns, "gen"), 30, "observedGeneration == generation")
    assert tenant_pod(tenant, ns, "gen")["status"]["observedGeneration"] == 1
    tenant.kubectl("patch", "pod", "gen", "-n", ns, "--type=json", "-p", json.dumps([
        {"op": "replace", "path": "/spec/containers/0/image", "value": "registry.local/app:2"},
        {"op": "add", "path": "/spec/activeDeadlineSeconds", "value": 3600},
        {"op": "add", "path": "/spec/tolerations/-",
         "value": {"key": "example.com/maintenance", "operator": "Exists",
                   "effect": "NoExecute", "tolerationSeconds": 60}}]))
    wait_for(lambda: observed(tenant, ns, "gen"), 60, "observedGeneration == generation 2")
    assert tenant_pod(tenant, ns, "gen")["metadata"]["generation"] == 2
    copy = edge_copy(sandbox, ns, "gen")
    assert copy is not None
    assert copy["spec"]["containers"][0]["image"] == "registry.local/app:2"
    assert copy["spec"]["activeDeadlineSeconds"] == 3600
    assert any(t.get("key") == "example.com/maintenance" for t in copy["spec"]["tolerations"])


def test_a_gated_pod_is_not_placed_until_its_last_gate_goes(sandbox: SandboxHandle,
                                                             ns: str) -> None:
    tenant = sandbox["tenant-a"]
    spec = pod_spec(schedulingGates=[{"name": "example.com/a"}, {"name": "example.com/b"}])
    apply(tenant, pod(ns, "gated", spec=spec))

    def scheduled_condition() -> Obj | None:
        conds = tenant_pod(tenant, ns, "gated")["status"].get("conditions") or []
        return next((c for c in conds if c["type"] == "PodScheduled"), None)
    cond = wait_for(scheduled_condition, 60, "a PodScheduled condition")
    assert (cond["status"], cond["reason"]) == ("False", "SchedulingGated")
    tenant.kubectl("patch", "pod", "gated", "-n", ns, "--type=json", "-p", json.dumps(
        [{"op": "remove", "path": "/spec/schedulingGates/0"}]))
    wait_for(lambda: scheduled_condition() is not None, 10, "condition still there")
    assert not tenant_pod(tenant, ns, "gated")["spec"].get("nodeName")  # one gate left
    tenant.kubectl("patch", "pod", "gated", "-n", ns, "--type=json", "-p", json.dumps(
        [{"op": "remove", "path": "/spec/schedulingGates"}]))
    wait_for(lambda: running(tenant, ns, "gated"), 90, "the pod Running once ungated")
    copy = edge_copy(sandbox, ns, "gated")
    assert copy is not None and not copy["spec"].get("schedulingGates")


@pytest.fixture
def ns_b(sandbox: SandboxHandle, syncer: SyncerProcess) -> Iterator[str]:
    name = unique("podsem-b")
    apply(sandbox["tenant-b"], namespace(name))
    yield name
    sandbox["tenant-b"].kubectl("delete", "namespace", name, "--wait=false")


def test_runtime_class_places_pods_only_where_the_handler_is_offered(
        sandbox: SandboxHandle, ns_b: str) -> None:
    """tenant-b is cost-first in cn-guangzhou, but only edge-bj offers the nvidia handler."""
    tenant, rc, nowhere = sandbox["tenant-b"], unique("gpu"), unique("kata")
    apply(tenant, {"apiVersion": "node.k8s.io/v1", "kind": "RuntimeClass",
                   "metadata": {"name": rc}, "handler": "nvidia"},
          {"apiVersion": "node.k8s.io/v1", "kind": "RuntimeClass",
           "metadata": {"name": nowhere}, "handler": "kata"})
    try:
        apply(tenant, pod(ns_b, "rc", spec=pod_spec(runtimeClassName=rc)),
              pod(ns_b, "rc-nowhere", spec=pod_spec(runtimeClassName=nowhere)))
        wait_for(lambda: running(tenant, ns_b, "rc"), 90, "the RuntimeClass pod Running")
        placed = get_json(tenant, "pod", "rc", "-n", ns_b)
        assert placed["metadata"]["annotations"]["fusionvc.io/edge-cluster"] == "edge-bj"
        ens = edge_ns(sandbox, "tenant-b", ns_b)
        copy = get_json(sandbox["edge-bj"], "pod", "rc", "-n", ens)
        edge_rc = copy["spec"]["runtimeClassName"]
        assert edge_rc != rc and edge_rc.startswith("tenant-b-")
        assert get_json(sandbox["edge-bj"], "runtimeclass", edge_rc)["handler"] == "nvidia"

        def refused() -> str:
            conds = tenant_pod(tenant, ns_b, "rc-nowhere")["status"].get("conditions") or []
            return next((c["message"] for c in conds if c["type"] == "PodScheduled"
                         and c["reason"] == "Unschedulable"), "")
        message = wait_for(refused, 60, "an Unschedulable reason for the kata handler")
        assert "handler kata" in message and "offered by no edge cluster" in message
    finally:
        tenant.kubectl("delete", "pod", "rc", "rc-nowhere", "-n", ns_b, "--wait=false",
                       check=False)
        tenant.kubectl("delete", "runtimeclass", rc, nowhere, check=False)


def test_in_place_resize_reaches_the_edge_or_waits_as_the_kubelet_says(
        sandbox: SandboxHandle, ns: str) -> None:
    tenant = sandbox["tenant-a"]
    apply(tenant, pod(ns, "rs"))
    wait_for(lambda: running(tenant, ns, "rs"), 90, "the pod Running")

    def resize(cpu: str) -> None:
        tenant.kubectl("patch", "pod", "rs", "-n", ns, "--subresource", "resize",
                       "--type=strategic", "-p", json.dumps({"spec": {"containers": [
                           {"name": "main", "resources": {"requests": {"cpu": cpu}}}]}}))

    def edge_cpu() -> str:
        copy = edge_copy(sandbox, ns, "rs")
        return str(copy["spec"]["containers"][0]["resources"]["requests"]["cpu"]) if copy \
            else ""
    resize("100m")
    wait_for(lambda: edge_cpu() == "100m", 60, "the resize on the edge pod")
    # Beyond the node's allocatable the tenant's own API server refuses it, as Kubernetes does.
    refused = tenant.kubectl("patch", "pod", "rs", "-n", ns, "--subresource", "resize",
                             "--type=strategic", "-p", json.dumps({"spec": {"containers": [
                                 {"name": "main", "resources": {"requests": {"cpu": "999"}}}]}}),
                             check=False)
    assert refused.returncode != 0 and "allocatable" in refused.stderr
    # Within allocatable but beyond what the node's other pods leave: Deferred, not applied.
    node = tenant_pod(tenant, ns, "rs")["spec"]["nodeName"]
    allocatable = get_json(tenant, "node", node)["status"]["allocatable"]["cpu"]
    cores = int(allocatable) if allocatable.isdigit() else int(allocatable[:-1]) // 1000
    hog = pod(ns, "hog", spec=pod_spec(nodeName=node, containers=[{
        "name": "main", "image": "registry.local/app:1",
        "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
        "resources": {"requests": {"cpu": str(cores - 4)}}}]))
    apply(tenant, hog)
    wait_for(lambda: running(tenant, ns, "hog"), 90, "the hog pod Running on the same node")
    resize("5")

    def pending() -> Obj | None:
        conds = tenant_pod(tenant, ns, "rs")["status"].get("conditions") or []
        return next((c for c in conds if c["type"] == "PodResizePending"), None)
    cond = wait_for(pending, 60, "PodResizePending on the tenant pod")
    assert (cond["status"], cond["reason"]) == ("True", "Deferred")
    assert "Node didn't have enough resource: cpu, requested: 5000" in cond["message"]
    assert edge_cpu() == "100m"  # the edge pod keeps what fits


def qos_pod(ns: str, name: str, resources: Obj) -> Obj:
    return pod(ns, name, spec=pod_spec(containers=[container(resources=resources)]))


# PodStatus fields (Kubernetes API reference, "Pod v1 core" / PodStatus and ContainerStatus):
# what the kubelet writes, which fusionvc takes from the kubelet that really runs the pod.
KUBELET_STATUS = ("hostIP", "hostIPs", "podIP", "podIPs", "startTime")
CONTAINER_STATUS = ("name", "image", "imageID", "ready", "started", "restartCount", "state",
                    "lastState", "resources", "allocatedResources")


def test_status_fields_are_the_edge_kubelets_and_qos_is_the_documented_class(
        sandbox: SandboxHandle, ns: str) -> None:
    """Pod QoS classes (concepts/workloads/pods/pod-qos): Guaranteed when every container's
    cpu and memory limits equal its requests, BestEffort with neither, else Burstable."""
    tenant = sandbox["tenant-a"]
    both = {"cpu": "100m", "memory": "64Mi"}
    apply(tenant, qos_pod(ns, "guaranteed", {"requests": both, "limits": both}),
          qos_pod(ns, "burstable", {"requests": {"cpu": "50m"}}),
          qos_pod(ns, "besteffort", {}))
    expected = {"guaranteed": "Guaranteed", "burstable": "Burstable", "besteffort": "BestEffort"}
    for name, qos in expected.items():
        status = wait_for(partial(mirrored, sandbox, ns, name), 90, f"{name} Running, mirrored")
        assert status["qosClass"] == qos
        assert status["podIP"] and status["podIPs"][0]["ip"] == status["podIP"]
        assert status["hostIP"] and status["hostIPs"][0]["ip"] == status["hostIP"]
        assert status["startTime"]
        assert status["containerStatuses"][0]["restartCount"] == 0
        # Pod lifecycle, "Pod conditions": PodScheduled, the pod has been scheduled to a node.
        scheduled = [c["status"] for c in status["conditions"] if c["type"] == "PodScheduled"]
        assert scheduled == ["True"], status["conditions"]


def mirrored(sandbox: SandboxHandle, ns: str, name: str) -> Obj | None:
    """The Running tenant pod's status once every kubelet-written field is the same as on
    the edge copy (absent on both counts as the same: fusionvc invents none)."""
    tstatus = tenant_pod(sandbox["tenant-a"], ns, name)["status"]
    copy = edge_copy(sandbox, ns, name)
    if tstatus.get("phase") != "Running" or copy is None:
        return None
    estatus = copy["status"]
    if any(tstatus.get(f) != estatus.get(f) for f in KUBELET_STATUS):
        return None
    tcs, ecs = tstatus.get("containerStatuses") or [], estatus.get("containerStatuses") or []
    same = len(tcs) == len(ecs) and all(
        t.get(f) == e.get(f) for t, e in zip(tcs, ecs, strict=False) for f in CONTAINER_STATUS)
    return tstatus if same else None


def test_a_tenant_job_runs_its_pods_to_completion(sandbox: SandboxHandle, ns: str) -> None:
    """The Job lives in the tenant and its edge pods have no owner; the sandbox's kwok
    completes them by the Job controller's label, after the delay a pod asks for. A Job
    whose container runs its image's own entrypoint (no command) keeps running."""
    tenant = sandbox["tenant-a"]
    finishing = pod_spec(restartPolicy="Never",
                         containers=[container(command=["sh", "-c", "exit 0"])])
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "batch", "namespace": ns},
           "spec": {"completions": 2, "parallelism": 1, "template": {
               "metadata": {"annotations": {"pod-complete.stage.kwok.x-k8s.io/delay": "3s"}},
               "spec": finishing}}}
    server = {"apiVersion": "batch/v1", "kind": "Job",
              "metadata": {"name": "server", "namespace": ns},
              "spec": {"template": {"spec": pod_spec(restartPolicy="Never")}}}
    apply(tenant, job, server)

    def pods() -> list[Obj]:
        out = tenant.kubectl("get", "pods", "-n", ns, "-l", "batch.kubernetes.io/job-name=batch",
                             "-o", "json")
        return list(json.loads(out.stdout)["items"])
    wait_for(lambda: any(p["status"].get("phase") == "Running" for p in pods()), 120,
             "the first Job pod Running (its 3 s)")

    def complete() -> Obj | None:
        status = get_json(tenant, "job", "batch", "-n", ns).get("status") or {}
        done = any(c["type"] == "Complete" and c["status"] == "True"
                   for c in status.get("conditions") or [])
        return status if done else None
    status = wait_for(complete, 180, "the Job Complete")
    assert status["succeeded"] == 2 and not status.get("failed")
    finished = pods()
    assert len(finished) == 2 and {p["status"]["phase"] for p in finished} == {"Succeeded"}
    for p in finished:
        terminated = p["status"]["containerStatuses"][0]["state"]["terminated"]
        assert terminated["exitCode"] == 0 and terminated["reason"] == "Completed"

    def server_phases() -> list[str]:
        out = tenant.kubectl("get", "pods", "-n", ns, "-l",
                             "batch.kubernetes.io/job-name=server", "-o", "json")
        return [p["status"].get("phase", "") for p in json.loads(out.stdout)["items"]]
    wait_for(lambda: server_phases() == ["Running"], 60, "the server Job's pod Running")
    assert server_phases() == ["Running"], "a container without a command keeps running"


REFUSE = "fusionvc-test.example.com/refuse-update"


def _refusing_policy() -> list[Obj]:
    """An edge admission rule the tenant's own cluster does not have: pod updates that add
    the REFUSE label are denied (a ValidatingAdmissionPolicy, CEL in the API server)."""
    name = "fusionvc-test-refuse-pod-updates"
    policy = {"apiVersion": "admissionregistration.k8s.io/v1",
              "kind": "ValidatingAdmissionPolicy", "metadata": {"name": name},
              "spec": {"failurePolicy": "Fail", "matchConstraints": {"resourceRules": [
                  {"apiGroups": [""], "apiVersions": ["v1"], "operations": ["UPDATE"],
                   "resources": ["pods"]}]},
                  "validations": [{"expression": f"!has(object.metadata.labels) || "
                                                 f"!('{REFUSE}' in object.metadata.labels)",
                                   "message": "this edge refuses pods with the refuse label"}]}}
    binding = {"apiVersion": "admissionregistration.k8s.io/v1",
               "kind": "ValidatingAdmissionPolicyBinding", "metadata": {"name": name},
               "spec": {"policyName": name, "validationActions": ["Deny"]}}
    return [policy, binding]


@pytest.fixture
def edges_refuse_a_label(sandbox: SandboxHandle) -> Iterator[None]:
    for edge in EDGES:
        apply(sandbox[edge], *_refusing_policy())
    yield
    for edge in EDGES:
        for obj in reversed(_refusing_policy()):
            sandbox[edge].kubectl("delete", obj["kind"].lower(), obj["metadata"]["name"],
                                  check=False)


def test_an_update_the_edge_refuses_is_reported_and_later_changes_still_arrive(
        sandbox: SandboxHandle, ns: str, edges_refuse_a_label: None) -> None:
    tenant = sandbox["tenant-a"]
    apply(tenant, pod(ns, "web"))
    wait_for(lambda: running(tenant, ns, "web"), 90, "the pod Running")
    # The policy takes a moment to reach the edge API servers' admission chain: an update
    # until one is refused.
    def refused() -> Obj | None:
        tenant.kubectl("label", "pod", "web", "-n", ns, f"{REFUSE}=yes")
        found = wait_for(lambda: [e for e in items(tenant, "events", "-n", ns)
                                  if e["reason"] == "UpdateRejected"]
                         or edge_copy_labels().get(REFUSE), 30, "the edge's answer")
        if not isinstance(found, list):  # the edge took it: the policy is not active yet
            tenant.kubectl("label", "pod", "web", "-n", ns, f"{REFUSE}-")
            wait_for(lambda: REFUSE not in edge_copy_labels(), 30, "the label gone again")
            return None
        return found[0]

    def edge_copy_labels() -> dict[str, str]:
        return dict(((edge_copy(sandbox, ns, "web") or {}).get("metadata") or {}).get(
            "labels") or {})
    event = wait_for(refused, 120, "an UpdateRejected Event on the tenant pod", every=3)
    assert event["type"] == "Warning"
    assert "the edge cluster refused this change" in event["message"]
    assert "refuse label" in event["message"]
    assert event["involvedObject"]["name"] == "web"
    assert REFUSE not in edge_copy_labels()
    assert running(tenant, ns, "web"), "a refused update leaves the pod running"
    # The tenant takes the label back and makes another change with the same pod generation
    # (labels do not bump it): that one reaches the edge.
    tenant.kubectl("label", "pod", "web", "-n", ns, f"{REFUSE}-", "tier=gold", "--overwrite")
    wait_for(lambda: edge_copy_labels().get("tier") == "gold", 60,
             "the later label on the edge copy")


def _deletion(sandbox: SandboxHandle, ns: str, name: str) -> tuple[int, int] | None:
    """(tenant pod's, edge copy's) deletionGracePeriodSeconds while both are marked."""
    copy = edge_copy(sandbox, ns, name)
    tpod = tenant_pod(sandbox["tenant-a"], ns, name)["metadata"]
    if copy is None or "deletionGracePeriodSeconds" not in copy["metadata"]:
        return None
    return tpod["deletionGracePeriodSeconds"], copy["metadata"]["deletionGracePeriodSeconds"]


def test_a_shorter_grace_on_a_terminating_pod_reaches_its_edge_copy(
        sandbox: SandboxHandle, ns: str) -> None:
    """`kubectl delete --grace-period=5` after a plain delete cuts the pod's grace (the API
    server keeps the shorter one) and a kubelet kills sooner: the edge copy's mark is cut
    too. The sandbox's kwok keeps the copy terminating for its annotated 120 s."""
    tenant = sandbox["tenant-a"]
    slow = pod(ns, "slow-stop", spec=pod_spec(terminationGracePeriodSeconds=300))
    slow["metadata"]["annotations"] = {"pod-delete.stage.kwok.x-k8s.io/delay": "120s"}
    apply(tenant, slow)
    wait_for(lambda: running(tenant, ns, "slow-stop"), 90, "the pod Running")
    tenant.kubectl("delete", "pod", "slow-stop", "-n", ns, "--wait=false")
    assert wait_for(lambda: _deletion(sandbox, ns, "slow-stop"), 30,
                    "the edge copy marked") == (300, 300)
    tenant.kubectl("delete", "pod", "slow-stop", "-n", ns, "--grace-period=5", "--wait=false")
    wait_for(lambda: _deletion(sandbox, ns, "slow-stop") == (5, 5), 30,
             "the edge copy's grace cut to the tenant's 5 s")
