"""What a tenant writes in a pod spec is a contract: kubectl in a tenant, real clusters.

nodeName, hostname and metadata.name speak virtual node names; inter-pod
anti-affinity and topology spread hold for bursts of replicas; edge taints and
cordons are the platform's; other schedulers' pods are left to them; messages
name only what applies.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator

import pytest

from .kube_helpers import (
    EDGES,
    HARDENED,
    HARDENED_CONTAINER,
    apply,
    deployment,
    edge_ns,
    get_json,
    items,
    namespace,
    running_pods,
    unique,
    wait_edge_nodes_settled,
)
from .sandbox_fixture import SandboxHandle
from .syncer_fixture import SyncerProcess, wait_for

Obj = dict  # type: ignore[type-arg]
TENANT = "tenant-a"
HOSTNAME = "kubernetes.io/hostname"


def _pod(ns: str, name: str, cpu: str = "100m", **spec: object) -> Obj:
    meta = spec.pop("metadata", {})
    container = {"name": "c", "image": "registry.local/app:1", **HARDENED_CONTAINER,
                 "resources": {"requests": {"cpu": cpu}}}
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": ns, **meta},  # type: ignore[dict-item]
            "spec": {**HARDENED, "containers": [container], **spec}}


def _tenant_pod(sandbox: SandboxHandle, ns: str, name: str) -> Obj:
    return get_json(sandbox[TENANT], "pod", name, "-n", ns)


def _edge_node_of(sandbox: SandboxHandle, ns: str, name: str) -> tuple[str, str] | None:
    """(edge cluster, edge node) of the pod's edge copy, if there is one."""
    ens = edge_ns(sandbox, TENANT, ns)
    for edge in EDGES:
        for pod in items(sandbox[edge], "pods", "-n", ens):
            if pod["metadata"]["name"] == name:
                return edge, pod["spec"]["nodeName"]
    return None


def _running_on(sandbox: SandboxHandle, ns: str, name: str) -> tuple[str, str]:
    wait_for(lambda: _tenant_pod(sandbox, ns, name)["status"].get("phase") == "Running", 90,
             f"{name} Running")
    where = _edge_node_of(sandbox, ns, name)
    assert where is not None
    return where


def _failed(sandbox: SandboxHandle, ns: str, name: str) -> Obj:
    def status() -> Obj | None:
        found = _tenant_pod(sandbox, ns, name)["status"]
        return found if found.get("phase") == "Failed" else None
    found: Obj = wait_for(status, 60, f"{name} Failed")
    return found


def _unschedulable(sandbox: SandboxHandle, ns: str, name: str) -> str:
    def message() -> str:
        pod = _tenant_pod(sandbox, ns, name)
        cond = next((c for c in pod["status"].get("conditions", [])
                     if c["type"] == "PodScheduled"), {})
        return str(cond.get("message", "")) if cond.get("reason") == "Unschedulable" else ""
    text: str = wait_for(message, 60, f"{name} Unschedulable")
    return text


def _vnode_labels(sandbox: SandboxHandle, pod: Obj) -> dict[str, str]:
    labels: dict[str, str] = get_json(sandbox[TENANT], "node", pod["spec"]["nodeName"])[
        "metadata"]["labels"]
    return labels


@pytest.fixture
def ns(sandbox: SandboxHandle, syncer: SyncerProcess) -> Iterator[str]:
    name = unique("contract")
    apply(sandbox[TENANT], namespace(name))
    yield name
    sandbox[TENANT].kubectl("delete", "namespace", name, "--wait=false")


# ---- tenant-visible names -------------------------------------------------------------


def test_node_name_of_a_virtual_node_runs_on_exactly_that_edge_node(
        sandbox: SandboxHandle, ns: str) -> None:
    # A virtual node the tenant does not have yet, and one pod forging fusionvc's annotation.
    forged = {"annotations": {"fusionvc.io/edge-cluster": "edge-gz"}}
    apply(sandbox[TENANT], _pod(ns, "pinned", nodeName="vn-edge-gz-gz-cpu-1"),
          _pod(ns, "forged", nodeName="vn-edge-sh-sh-cpu-1", metadata=forged))
    assert _running_on(sandbox, ns, "pinned") == ("edge-gz", "gz-cpu-1")
    assert _running_on(sandbox, ns, "forged") == ("edge-sh", "sh-cpu-1")
    assert get_json(sandbox[TENANT], "node", "vn-edge-gz-gz-cpu-1")["metadata"]["annotations"][
        "fusionvc.io/edge-node"] == "gz-cpu-1"


def test_node_name_that_cannot_run_there_fails_at_once_with_a_kubelet_reason(
        sandbox: SandboxHandle, ns: str) -> None:
    apply(sandbox[TENANT], _pod(ns, "huge", cpu="200", nodeName="vn-edge-gz-gz-cpu-0"))
    status = _failed(sandbox, ns, "huge")
    assert status["reason"] == "OutOfcpu" and "Insufficient cpu" in status["message"]
    assert _edge_node_of(sandbox, ns, "huge") is None


@pytest.mark.parametrize("node_name", ["gz-cpu-0", "vn-edge-xx-nowhere"])
def test_any_other_node_name_fails_at_once(sandbox: SandboxHandle, ns: str,
                                           node_name: str) -> None:
    apply(sandbox[TENANT], _pod(ns, "lost-name", nodeName=node_name))
    status = _failed(sandbox, ns, "lost-name")
    assert status["reason"] == "NodeNotFound"
    assert f"{node_name!r} names no virtual node" in status["message"]
    assert _edge_node_of(sandbox, ns, "lost-name") is None
    events = items(sandbox[TENANT], "events", "-n", ns, "--field-selector",
                   "involvedObject.name=lost-name")
    assert {e["reason"] for e in events} == {"NodeNotFound"}, "never read as lost"


def test_hostname_and_metadata_name_selectors_match_virtual_node_names(
        sandbox: SandboxHandle, ns: str) -> None:
    by_field = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchFields": [
            {"key": "metadata.name", "operator": "In", "values": ["vn-edge-sh-sh-cpu-2"]}]}]}}}
    apply(sandbox[TENANT],
          _pod(ns, "by-host", nodeSelector={HOSTNAME: "vn-edge-gz-gz-cpu-2"}),
          _pod(ns, "by-field", affinity=by_field),
          _pod(ns, "edge-host", nodeSelector={HOSTNAME: "gz-cpu-2"}))
    assert _running_on(sandbox, ns, "by-host") == ("edge-gz", "gz-cpu-2")
    assert _running_on(sandbox, ns, "by-field") == ("edge-sh", "sh-cpu-2")
    assert "didn't match Pod's node affinity/selector" in _unschedulable(sandbox, ns, "edge-host")


# ---- inter-pod rules ------------------------------------------------------------------


def test_required_anti_affinity_puts_every_replica_on_its_own_node(
        sandbox: SandboxHandle, ns: str) -> None:
    labels = {"app": "apart"}
    anti = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": labels}, "topologyKey": HOSTNAME}]}}
    apply(sandbox[TENANT], deployment(ns, "apart", 6, labels=labels,
                                      pod_spec={"affinity": anti}))
    wait_for(lambda: len(running_pods(sandbox[TENANT], ns)) == 6, 120, "6 replicas")
    nodes = [p["spec"]["nodeName"] for p in running_pods(sandbox[TENANT], ns)]
    assert len(set(nodes)) == 6, nodes


def test_do_not_schedule_spread_over_regions_holds_for_a_burst(
        sandbox: SandboxHandle, ns: str) -> None:
    # tenant-a is latency-first from cn-beijing: without the constraint all would go there.
    labels = {"app": "spread"}
    constraint = {"maxSkew": 1, "topologyKey": "topology.kubernetes.io/region",
                  "whenUnsatisfiable": "DoNotSchedule", "labelSelector": {"matchLabels": labels}}
    apply(sandbox[TENANT], deployment(ns, "spread", 4, labels=labels, pod_spec={
        "topologySpreadConstraints": [constraint]}))
    wait_for(lambda: len(running_pods(sandbox[TENANT], ns)) == 4, 120, "4 replicas")
    regions = Counter(_vnode_labels(sandbox, p)["topology.kubernetes.io/region"]
                      for p in running_pods(sandbox[TENANT], ns))
    assert len(regions) == 3 and max(regions.values()) - min(regions.values()) <= 1, regions


# ---- platform taints and cordons ------------------------------------------------------


@pytest.fixture
def tainted_and_cordoned(sandbox: SandboxHandle) -> Iterator[None]:
    wait_edge_nodes_settled(sandbox)
    edge = sandbox["edge-gz"]
    edge.kubectl("taint", "node", "gz-cpu-3", "dedicated=other-tenant:NoSchedule")
    edge.kubectl("cordon", "gz-cpu-2")
    yield
    edge.kubectl("taint", "node", "gz-cpu-3", "dedicated-", check=False)
    edge.kubectl("uncordon", "gz-cpu-2", check=False)


def _set_tolerable(sandbox: SandboxHandle, keys: list[str]) -> None:
    mgmt = sandbox["management"]
    mgmt.kubectl("patch", "tenant", TENANT, "--type=merge", "-p",
                 json.dumps({"spec": {"scheduling": {"tolerableTaints": keys}}}))

    def applied() -> bool:
        tenant = get_json(mgmt, "tenant", TENANT)
        cond = next((c for c in tenant["status"].get("conditions", [])
                     if c["type"] == "PolicyValid"), {})
        return (tenant["status"].get("observedGeneration") == tenant["metadata"]["generation"]
                and cond.get("status") == "True")
    wait_for(applied, 60, "policy applied")


def test_tenant_tolerations_do_not_open_platform_taints_or_cordons(
        sandbox: SandboxHandle, ns: str, tainted_and_cordoned: None) -> None:
    everything = [{"operator": "Exists"}]
    apply(sandbox[TENANT],
          _pod(ns, "to-tainted", tolerations=everything,
               nodeSelector={HOSTNAME: "vn-edge-gz-gz-cpu-3"}),
          _pod(ns, "to-cordoned", tolerations=everything,
               nodeSelector={HOSTNAME: "vn-edge-gz-gz-cpu-2"}))
    tainted = _unschedulable(sandbox, ns, "to-tainted")
    assert "1 node(s) had a taint the tenant may not tolerate" in tainted
    assert "other-tenant" not in tainted, "another tenant's taint value leaked"
    assert "1 node(s) were unschedulable" in _unschedulable(sandbox, ns, "to-cordoned")
    try:
        _set_tolerable(sandbox, ["dedicated"])
        assert _running_on(sandbox, ns, "to-tainted") == ("edge-gz", "gz-cpu-3")
        assert _tenant_pod(sandbox, ns, "to-cordoned")["status"].get("phase") == "Pending"
    finally:
        mgmt = sandbox["management"]
        mgmt.kubectl("patch", "tenant", TENANT, "--type=json", "-p", json.dumps(
            [{"op": "remove", "path": "/spec/scheduling/tolerableTaints"}]), check=False)


# ---- schedulerName --------------------------------------------------------------------


def test_pods_for_another_scheduler_wait_for_its_binding(sandbox: SandboxHandle,
                                                         ns: str) -> None:
    apply(sandbox[TENANT], _pod(ns, "theirs", schedulerName="my-own-scheduler"),
          _pod(ns, "ours-marker"))
    _running_on(sandbox, ns, "ours-marker")  # the syncer has seen the namespace's pods
    pod = _tenant_pod(sandbox, ns, "theirs")
    assert not pod["spec"].get("nodeName") and not pod["status"].get("conditions")
    assert _edge_node_of(sandbox, ns, "theirs") is None
    binding = {"apiVersion": "v1", "kind": "Binding",
               "metadata": {"name": "theirs", "namespace": ns},
               "target": {"apiVersion": "v1", "kind": "Node", "name": "vn-edge-sh-sh-cpu-0"}}
    sandbox[TENANT].kubectl("create", "--raw", f"/api/v1/namespaces/{ns}/pods/theirs/binding",
                            "-f", "-", stdin=json.dumps(binding))
    assert _running_on(sandbox, ns, "theirs") == ("edge-sh", "sh-cpu-0")


# ---- diagnosis ------------------------------------------------------------------------


def test_unschedulable_message_counts_usable_nodes_and_names_applicable_reasons(
        sandbox: SandboxHandle, ns: str) -> None:
    apply(sandbox[TENANT], _pod(ns, "too-big", cpu="500"))
    text = _unschedulable(sandbox, ns, "too-big")
    fleet = sum(len(items(sandbox[e], "nodes")) for e in EDGES)
    assert text.startswith(f"0/{fleet} nodes are available: ")
    assert "didn't match node arch" not in text
    assert "a pod that selects no kubernetes.io/arch runs on amd64 only" in text
    assert "Insufficient cpu" in text


# ---- taints the EdgeCluster lets tenants tolerate -------------------------------------

ACCELERATOR = "fusionvc.test/accelerator"


def _patch_applied(sandbox: SandboxHandle, kind: str, name: str, patch: list[Obj]) -> None:
    mgmt = sandbox["management"]
    mgmt.kubectl("patch", kind, name, "--type=json", "-p", json.dumps(patch))

    def applied() -> bool:
        obj = get_json(mgmt, kind, name)
        return bool(obj["status"].get("observedGeneration") == obj["metadata"]["generation"])
    wait_for(applied, 60, f"{kind} {name} applied")


@pytest.fixture
def gz_tolerates_accelerators(sandbox: SandboxHandle) -> Iterator[None]:
    _patch_applied(sandbox, "edgecluster", "edge-gz", [
        {"op": "add", "path": "/spec/tolerableTaints", "value": [ACCELERATOR]}])
    # Tainted after the cluster lists the key: the node's event re-reads it for the vnode.
    sandbox["edge-gz"].kubectl("taint", "node", "gz-cpu-1", f"{ACCELERATOR}=true:NoSchedule")
    yield
    sandbox["edge-gz"].kubectl("taint", "node", "gz-cpu-1", f"{ACCELERATOR}-", check=False)
    sandbox["management"].kubectl("patch", "edgecluster", "edge-gz", "--type=json", "-p",
                                  json.dumps([{"op": "remove", "path": "/spec/tolerableTaints"}]),
                                  check=False)


def test_taints_the_edge_cluster_lists_are_the_tenants_to_tolerate(
        sandbox: SandboxHandle, ns: str, gz_tolerates_accelerators: None) -> None:
    there = {HOSTNAME: "vn-edge-gz-gz-cpu-1"}
    tolerates = [{"key": ACCELERATOR, "operator": "Exists", "effect": "NoSchedule"}]
    apply(sandbox[TENANT], _pod(ns, "tolerates", tolerations=tolerates, nodeSelector=there),
          _pod(ns, "intolerant", nodeSelector=there))
    assert _running_on(sandbox, ns, "tolerates") == ("edge-gz", "gz-cpu-1")
    assert (f"1 node(s) had untolerated taint {{{ACCELERATOR}: true}}"
            in _unschedulable(sandbox, ns, "intolerant"))

    def shown() -> bool:
        node = get_json(sandbox[TENANT], "node", "vn-edge-gz-gz-cpu-1")
        return ACCELERATOR in {t["key"] for t in node["spec"].get("taints") or []}
    wait_for(shown, 60, "the virtual node shows the tolerable taint")


# ---- namespaceSelector in inter-pod terms ---------------------------------------------


def test_namespace_selectors_match_the_tenants_namespace_labels(
        sandbox: SandboxHandle, ns: str) -> None:
    team = unique("team")
    data = unique("contract-data")
    apply(sandbox[TENANT], {**namespace(data), "metadata": {"name": data,
                                                           "labels": {"team": team}}})
    try:
        apply(sandbox[TENANT], _pod(data, "db", nodeName="vn-edge-gz-gz-cpu-0",
                                    metadata={"labels": {"app": "db"}}))
        assert _running_on(sandbox, data, "db") == ("edge-gz", "gz-cpu-0")

        def term(labels: dict[str, str]) -> Obj:
            return {"labelSelector": {"matchLabels": {"app": "db"}}, "topologyKey": HOSTNAME,
                    "namespaceSelector": {"matchLabels": labels}}
        there = {HOSTNAME: "vn-edge-gz-gz-cpu-0"}
        required = "requiredDuringSchedulingIgnoredDuringExecution"
        apply(sandbox[TENANT],
              _pod(ns, "avoids", nodeSelector=there,
                   affinity={"podAntiAffinity": {required: [term({"team": team})]}}),
              _pod(ns, "other-team", nodeSelector=there,
                   affinity={"podAntiAffinity": {required: [term({"team": "nobody"})]}}),
              _pod(ns, "follows",
                   affinity={"podAffinity": {required: [term({"team": team})]}}))
        assert "didn't match pod anti-affinity rules" in _unschedulable(sandbox, ns, "avoids")
        assert _running_on(sandbox, ns, "other-team") == ("edge-gz", "gz-cpu-0")
        assert _running_on(sandbox, ns, "follows") == ("edge-gz", "gz-cpu-0")
    finally:
        sandbox[TENANT].kubectl("delete", "namespace", data, "--wait=false")
