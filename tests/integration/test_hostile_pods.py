"""Hostile and unusual pods (issue 18): every refusal reaches the tenant, nothing is silently
dropped, nothing collides.

Each test is a case that failed before: a pod the edge refused stayed Pending with no
condition and no Event and was retried for good; a ghost pod stayed Running after its edge
copy was lost; Service edits never reached the edge.
"""

from __future__ import annotations

import copy
import json
import time
from typing import Any

import pytest

from .kube_helpers import (
    EDGES,
    HARDENED,
    HARDENED_CONTAINER,
    apply,
    deployment,
    edge_ns,
    edge_objects,
    edge_pods,
    get_json,
    items,
    namespace,
    running_pods,
    unique,
)
from .sandbox_fixture import Cluster, SandboxHandle
from .syncer_fixture import SyncerProcess, wait_for

Obj = dict[str, Any]


def hardened_pod(ns: str, name: str, pod_sc: Obj | None = None, container_sc: Obj | None = None,
                 **spec: Any) -> Obj:
    """A pod that passes restricted, with the fields under test merged in."""
    psc = {**copy.deepcopy(HARDENED["securityContext"]), **(pod_sc or {})}
    csc = {**copy.deepcopy(HARDENED_CONTAINER["securityContext"]), **(container_sc or {})}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns},
            "spec": {"securityContext": psc, "containers": [
                {"name": "c", "image": "registry.local/app:1", "securityContext": csc}], **spec}}


def pod_scheduled(cluster: Cluster, ns: str, name: str) -> Obj | None:
    pod = get_json(cluster, "pod", name, "-n", ns)
    return next((c for c in pod["status"].get("conditions") or []
                 if c["type"] == "PodScheduled" and c["status"] == "False"), None)


def warnings(cluster: Cluster, ns: str, name: str) -> list[Obj]:
    return [e for e in items(cluster, "events", "-n", ns, "--field-selector",
                             f"involvedObject.name={name}") if e["type"] == "Warning"]


# (case, tenant, pod fields, the field the refusal names): each stayed Pending without a word.
PSS_CASES: list[tuple[str, str, Obj, str]] = [
    ("unsafe-sysctl", "tenant-a", {"pod_sc": {"sysctls": [{"name": "kernel.msgmax",
                                                           "value": "65536"}]}},
     "spec.securityContext.sysctls[0].name"),
    ("seccomp-unconfined", "tenant-a", {"container_sc": {"seccompProfile": {"type": "Unconfined"}}},
     "spec.containers[0].securityContext.seccompProfile.type"),
    ("apparmor-unconfined", "tenant-a", {"pod_sc": {"appArmorProfile": {"type": "Unconfined"}}},
     "spec.securityContext.appArmorProfile.type"),
    ("selinux-spc_t", "tenant-a", {"container_sc": {"seLinuxOptions": {"type": "spc_t"}}},
     "spec.containers[0].securityContext.seLinuxOptions.type"),
    ("run-as-root-restricted", "tenant-b", {"container_sc": {"runAsUser": 0}},
     "spec.containers[0].securityContext.runAsUser"),
    ("nfs-baseline-by-default", "tenant-a", {"volumes": [{"name": "n", "nfs": {
        "server": "127.0.0.1", "path": "/x"}}]}, "spec.volumes[0].nfs"),
    ("inline-csi-by-default", "tenant-a", {"volumes": [{"name": "c", "csi": {
        "driver": "secrets-store.csi.k8s.io"}}]}, "spec.volumes[0].csi"),
    ("nfs-restricted", "tenant-b", {"volumes": [{"name": "n", "nfs": {"server": "127.0.0.1",
                                                                     "path": "/x"}}]},
     "spec.volumes[0].nfs"),
]


@pytest.mark.parametrize(("tenant_name", "fields", "field"),
                         [(t, f, x) for _, t, f, x in PSS_CASES], ids=[c[0] for c in PSS_CASES])
def test_pod_security_refusals_reach_the_tenant(sandbox: SandboxHandle, syncer: SyncerProcess,
                                                tenant_name: str, fields: Obj,
                                                field: str) -> None:
    tenant, ns = sandbox[tenant_name], unique("pss")
    apply(tenant, namespace(ns), hardened_pod(ns, "bad", **fields))
    cond = wait_for(lambda: pod_scheduled(tenant, ns, "bad"), 60, "PodScheduled=False")
    assert cond["reason"] == "Forbidden" and field in cond["message"]
    assert any(field in e["message"] for e in warnings(tenant, ns, "bad"))
    assert not edge_pods(sandbox, edge_ns(sandbox, tenant_name, ns))
    tenant.kubectl("delete", "namespace", ns, "--wait=false")


def refused_attempts(syncer: SyncerProcess, ns: str, name: str) -> int:
    return sum(1 for line in syncer.log_lines()
               if line.get("event") == "edge refused pod" and line.get("pod") == f"{ns}/{name}")


def test_an_edge_refusal_is_told_in_tenant_terms_and_not_retried(
        sandbox: SandboxHandle, syncer: SyncerProcess) -> None:
    tenant, ns, rtc = sandbox["tenant-a"], unique("rtc"), unique("no-such-runtime")
    runtime_class = {"apiVersion": "node.k8s.io/v1", "kind": "RuntimeClass",
                     "metadata": {"name": rtc}, "handler": "nosuch"}  # the tenant has it
    apply(tenant, runtime_class, namespace(ns), hardened_pod(ns, "odd", runtimeClassName=rtc))
    cond = wait_for(lambda: pod_scheduled(tenant, ns, "odd"), 60, "PodScheduled=False")
    ens = edge_ns(sandbox, "tenant-a", ns)
    assert rtc in cond["message"] and ens not in cond["message"]
    assert "https://" not in cond["message"]
    events = wait_for(lambda: warnings(tenant, ns, "odd"), 30, "a Warning event")
    assert all(ens not in e["message"] for e in events)
    time.sleep(15)  # what used to retry every few seconds
    assert refused_attempts(syncer, ns, "odd") <= 1
    assert not edge_pods(sandbox, ens)
    tenant.kubectl("delete", "namespace", ns, "--wait=false")
    tenant.kubectl("delete", "runtimeclass", rtc, "--wait=false")


def test_annotations_that_overflow_with_markers_are_refused(sandbox: SandboxHandle,
                                                            syncer: SyncerProcess) -> None:
    tenant, ns = sandbox["tenant-a"], unique("big")
    pod = hardened_pod(ns, "big")
    pod["metadata"]["annotations"] = {"blob": "x" * (256 * 1024 - 100)}
    apply(tenant, namespace(ns))
    tenant.kubectl("create", "-f", "-", stdin=json.dumps(pod))
    cond = wait_for(lambda: pod_scheduled(tenant, ns, "big"), 60, "PodScheduled=False")
    assert cond["reason"] == "EdgeRefused" and "metadata.annotations" in cond["message"]
    assert not edge_pods(sandbox, edge_ns(sandbox, "tenant-a", ns))
    tenant.kubectl("delete", "namespace", ns, "--wait=false")


def test_a_ghost_pod_is_noticed_when_its_edge_copy_goes(sandbox: SandboxHandle,
                                                        syncer: SyncerProcess) -> None:
    """kubectl debug adds a container fusionvc refuses; the edge copy is then lost."""
    tenant, ns = sandbox["tenant-a"], unique("ghost")
    apply(tenant, namespace(ns), hardened_pod(ns, "web"))
    wait_for(lambda: running_pods(tenant, ns), 90, "pod running")
    debug = {"spec": {"ephemeralContainers": [{
        "name": "debug", "image": "busybox", "securityContext": {"privileged": True}}]}}
    tenant.kubectl("patch", "pod", "web", "-n", ns, "--subresource=ephemeralcontainers",
                   "--type=strategic", "-p", json.dumps(debug))
    ens = edge_ns(sandbox, "tenant-a", ns)
    for edge in EDGES:
        sandbox[edge].kubectl("delete", "pod", "--all", "-n", ens, "--grace-period=0", "--force",
                              "--ignore-not-found")

    def lost() -> bool:
        status = get_json(tenant, "pod", "web", "-n", ns)["status"]
        return status.get("phase") == "Failed" and status.get("reason") == "EdgePodLost"
    wait_for(lost, 90, "the tenant pod marked Failed (EdgePodLost)")
    tenant.kubectl("delete", "namespace", ns, "--wait=false")


def test_same_prefix_namespaces_get_their_own_edge_namespaces(sandbox: SandboxHandle,
                                                             syncer: SyncerProcess) -> None:
    """A namespace named like the cut form of a long one must not share its edge namespace."""
    from syncer.core.names import HASH_LEN, NAMESPACE_MAX, short_hash

    from .kube_helpers import tenant_uid
    tenant = sandbox["tenant-a"]
    prefix = f"tenant-a-{short_hash(tenant_uid(sandbox, 'tenant-a'), 6)}-"
    long_ns = (unique("col") + "-" + "y" * 63)[:63]
    full = prefix + long_ns
    cut = full[: NAMESPACE_MAX - HASH_LEN - 1].rstrip("-.")
    lookalike = (cut + "-" + short_hash(full, HASH_LEN))[len(prefix):]
    apply(tenant, namespace(long_ns), namespace(lookalike),
          deployment(long_ns, "first", 1), deployment(lookalike, "second", 1))
    wait_for(lambda: running_pods(tenant, long_ns) and running_pods(tenant, lookalike), 120,
             "pods of both namespaces running")
    ens_long, ens_look = edge_ns(sandbox, "tenant-a", long_ns), edge_ns(sandbox, "tenant-a",
                                                                         lookalike)
    assert ens_long != ens_look
    tenant.kubectl("delete", "namespace", lookalike, "--wait=true", "--timeout=120s")
    time.sleep(5)
    assert running_pods(tenant, long_ns)
    assert any(p for p in edge_pods(sandbox, ens_long)
               if not p["metadata"].get("deletionTimestamp"))
    for edge in EDGES:
        assert not [n for n in items(sandbox[edge], "namespaces")
                    if n["metadata"]["name"] == ens_long and n["metadata"].get(
                        "deletionTimestamp")]
    tenant.kubectl("delete", "namespace", long_ns, "--wait=false")


def edge_copies(sandbox: SandboxHandle, kind: str, ens: str, name: str) -> list[Obj]:
    return [o for objs in edge_objects(sandbox, kind, ens).values() for o in objs
            if o["metadata"]["name"] == name]


def test_service_edits_converge_and_external_name_is_copied(sandbox: SandboxHandle,
                                                            syncer: SyncerProcess) -> None:
    tenant, ns = sandbox["tenant-a"], unique("svc")
    svc = {"apiVersion": "v1", "kind": "Service",
           "metadata": {"name": "web", "namespace": ns, "labels": {"tier": "one"}},
           "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}}
    ext = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "db", "namespace": ns},
           "spec": {"type": "ExternalName", "externalName": "db.example.com"}}
    apply(tenant, namespace(ns), deployment(ns, "web", 1), svc, ext)
    ens = edge_ns(sandbox, "tenant-a", ns)
    wait_for(lambda: edge_copies(sandbox, "services", ens, "web"), 90, "service copied")
    wait_for(lambda: edge_copies(sandbox, "services", ens, "db"), 60,
             "ExternalName service without selector copied")
    tenant.kubectl("label", "service", "web", "-n", ns, "tier=two", "--overwrite")
    tenant.kubectl("annotate", "service", "web", "-n", ns, "note=hello")
    tenant.kubectl("patch", "service", "web", "-n", ns, "-p",
                   json.dumps({"spec": {"internalTrafficPolicy": "Local"}}))
    tenant.kubectl("patch", "service", "db", "-n", ns, "-p",
                   json.dumps({"spec": {"externalName": "db2.example.com"}}))

    def converged() -> bool:
        web, db = edge_copies(sandbox, "services", ens, "web"), edge_copies(
            sandbox, "services", ens, "db")
        return bool(web and db) and all(
            w["metadata"]["labels"].get("tier") == "two"
            and w["metadata"].get("annotations", {}).get("note") == "hello"
            and w["spec"].get("internalTrafficPolicy") == "Local" for w in web) and all(
            d["spec"].get("externalName") == "db2.example.com" for d in db)
    wait_for(converged, 60, "service edits on the edge copies")
    tenant.kubectl("delete", "namespace", ns, "--wait=false")


def live_edge_pod(sandbox: SandboxHandle, ens: str, name: str) -> tuple[str, Obj] | None:
    for edge in EDGES:
        for p in items(sandbox[edge], "pods", "-n", ens):
            if p["metadata"]["name"] == name and not p["metadata"].get("deletionTimestamp"):
                return edge, p
    return None


@pytest.mark.parametrize(("case", "args"), [
    ("managed-by-removed", ("label", "fusionvc.io/managed-by-")),
    ("tenant-uid-changed", ("annotate", "--overwrite", "fusionvc.io/tenant-uid=forged")),
])
def test_tampered_markers_are_repaired(sandbox: SandboxHandle, syncer: SyncerProcess,
                                       case: str, args: tuple[str, ...]) -> None:
    tenant, ns = sandbox["tenant-a"], unique("tamper")
    apply(tenant, namespace(ns), hardened_pod(ns, "web"))
    wait_for(lambda: running_pods(tenant, ns), 90, "pod running")
    ens = edge_ns(sandbox, "tenant-a", ns)
    found = live_edge_pod(sandbox, ens, "web")
    assert found is not None
    edge, before = found
    verb, *rest = args
    sandbox[edge].kubectl(verb, "pod", "web", "-n", ens, *rest)
    tpod_uid = get_json(tenant, "pod", "web", "-n", ns)["metadata"]["uid"]

    def repaired() -> bool:
        now = live_edge_pod(sandbox, ens, "web")
        if now is None:
            return False
        meta = now[1]["metadata"]
        return (meta["uid"] == before["metadata"]["uid"]
                and meta["labels"].get("fusionvc.io/managed-by") == "fusionvc"
                and meta["annotations"].get("fusionvc.io/tenant-uid") == tpod_uid)
    wait_for(repaired, 60, f"the edge pod's markers repaired ({case}), the pod kept")
    assert get_json(tenant, "pod", "web", "-n", ns)["status"]["phase"] == "Running"
    tenant.kubectl("delete", "namespace", ns, "--wait=false")


def test_sandbox_up_with_syncer_twice_runs_one_syncer(sandbox: SandboxHandle) -> None:
    """The second `up --with-syncer` finds the first syncer and keeps it (issue 18, item 9)."""
    try:
        sandbox.run("up", "--with-syncer")
        first = [p for p in json.loads((sandbox.dir / "processes.json").read_text())
                 if p["name"] == "syncer"]
        out = sandbox.run("up", "--with-syncer").stdout
        again = [p for p in json.loads((sandbox.dir / "processes.json").read_text())
                 if p["name"] == "syncer"]
        assert len(first) == 1 and [p["pid"] for p in again] == [first[0]["pid"]]
        assert "already running" in out
    finally:
        sandbox.run("stop", "syncer", check=False)


def test_no_edge_credential_in_an_edge_pod(sandbox: SandboxHandle, syncer: SyncerProcess) -> None:
    """automountServiceAccountToken: true used to mount the edge's token and CA; a mixed
    projected volume used to vanish whole."""
    tenant, ns = sandbox["tenant-a"], unique("creds")
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings",
                                                                "namespace": ns},
          "data": {"a": "1"}}
    mixed = {"name": "bundle", "projected": {"sources": [
        {"configMap": {"name": "settings"}},
        {"serviceAccountToken": {"path": "token", "audience": "vault"}}]}}
    pod = hardened_pod(ns, "web", automountServiceAccountToken=True, volumes=[mixed])
    pod["spec"]["containers"][0]["volumeMounts"] = [{"name": "bundle", "mountPath": "/b"}]
    apply(tenant, namespace(ns), cm, pod)
    wait_for(lambda: running_pods(tenant, ns), 90, "pod running")
    found = live_edge_pod(sandbox, edge_ns(sandbox, "tenant-a", ns), "web")
    assert found is not None
    spec = found[1]["spec"]
    assert spec.get("automountServiceAccountToken") is False
    sources = [s for v in spec.get("volumes") or [] for s in (v.get("projected") or {}).get(
        "sources") or []]
    assert not [s for s in sources if "serviceAccountToken" in s]
    assert not [s for s in sources if (s.get("configMap") or {}).get("name") == "kube-root-ca.crt"]
    assert {"configMap": {"name": "settings"}} in sources
    tenant.kubectl("delete", "namespace", ns, "--wait=false")


def test_downward_api_uid_is_the_tenant_pods(sandbox: SandboxHandle,
                                            syncer: SyncerProcess) -> None:
    tenant, ns = sandbox["tenant-a"], unique("uid")
    pod = hardened_pod(ns, "web")
    pod["spec"]["containers"][0]["env"] = [
        {"name": "UID", "valueFrom": {"fieldRef": {"fieldPath": "metadata.uid"}}}]
    apply(tenant, namespace(ns), pod)
    wait_for(lambda: running_pods(tenant, ns), 90, "pod running")
    found = live_edge_pod(sandbox, edge_ns(sandbox, "tenant-a", ns), "web")
    assert found is not None
    uid = get_json(tenant, "pod", "web", "-n", ns)["metadata"]["uid"]
    env = found[1]["spec"]["containers"][0]["env"]  # and the tenant apiserver's address
    assert [e for e in env if e["name"] == "UID"] == [{"name": "UID", "value": uid}]
    tenant.kubectl("delete", "namespace", ns, "--wait=false")


def test_a_service_copy_without_its_managed_by_label_is_repaired(
        sandbox: SandboxHandle, syncer: SyncerProcess) -> None:
    tenant, ns = sandbox["tenant-a"], unique("svctamper")
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": ns},
           "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}}
    apply(tenant, namespace(ns), deployment(ns, "web", 1), svc)
    ens = edge_ns(sandbox, "tenant-a", ns)
    copies = wait_for(lambda: [(e, o) for e in EDGES for o in items(sandbox[e], "services", "-n",
                                                                       ens)], 90, "copied")
    edge, before = copies[0]
    sandbox[edge].kubectl("label", "service", "web", "-n", ens, "fusionvc.io/managed-by-")

    def repaired() -> bool:
        now = [o for o in items(sandbox[edge], "services", "-n", ens)
               if o["metadata"]["name"] == "web"]
        return bool(now) and now[0]["metadata"]["uid"] == before["metadata"]["uid"] and \
            now[0]["metadata"]["labels"].get("fusionvc.io/managed-by") == "fusionvc"
    wait_for(repaired, 60, "the service copy's managed-by label put back")
    assert not [e for e in items(tenant, "events", "-n", ns) if e["reason"] == "NameTaken"]
    tenant.kubectl("delete", "namespace", ns, "--wait=false")
