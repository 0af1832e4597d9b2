"""A tenant pod behaves like a Kubernetes pod: generation, in-place updates, scheduling gates.

Each case follows the Kubernetes documentation of the behaviour, with kubectl as a tenant
types it, against the real tenant and edge API servers of the sandbox.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.builders import pod, pod_spec

from .kube_helpers import apply, edge_ns, get_json, namespace, unique
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
