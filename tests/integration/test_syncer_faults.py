"""Faults: a killed syncer, a restarted edge API server, compaction (410), drift, orphans."""

from __future__ import annotations

import json
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from .kube_helpers import (
    EDGES,
    apply,
    converged,
    deployment,
    edge_ns,
    edge_pods,
    get_json,
    items,
    namespace,
    running_pods,
    unique,
)
from .sandbox_fixture import SandboxHandle
from .syncer_fixture import SyncerProcess, wait_for


def test_kill_9_mid_rollout_converges_without_duplicates(sandbox: SandboxHandle,
                                                         syncer: SyncerProcess) -> None:
    tenant, ns = sandbox["tenant-a"], unique("kill")
    apply(tenant, namespace(ns), deployment(ns, "roll", 300))
    ens = edge_ns(sandbox, "tenant-a", ns)
    wait_for(lambda: len(edge_pods(sandbox, ens)) >= 60, 120, "rollout under way")
    syncer.kill()
    syncer.start()
    wait_for(lambda: converged(sandbox, ns, ens, 300), 420, "300 pods converged", every=3)
    tenant.kubectl("delete", "namespace", ns, "--wait=false")
    wait_for(lambda: not edge_pods(sandbox, ens), 180, "no orphan left", every=3)


def _etcd_compact(sandbox: SandboxHandle) -> None:
    etcd = sandbox.status()["etcd"]

    def post(path: str, body: dict) -> dict:  # type: ignore[type-arg]
        req = urllib.request.Request(f"{etcd}{path}", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            out: dict = json.loads(resp.read())  # type: ignore[type-arg]
            return out
    revision = int(post("/v3/kv/range", {"key": "Lw=="})["header"]["revision"])
    post("/v3/kv/compaction", {"revision": revision, "physical": True})


def _relists(syncer: SyncerProcess, cluster: str) -> float:
    _, text = syncer.http("/metrics")
    for family in text_string_to_metric_families(text):
        if family.name == "fusionvc_informer_relists":
            return sum(s.value for s in family.samples
                       if s.labels.get("cluster") == cluster and s.name.endswith("_total"))
    return 0.0


def test_edge_apiserver_restart_and_compaction_resume_watches(sandbox: SandboxHandle,
                                                              syncer: SyncerProcess) -> None:
    tenant, ns = sandbox["tenant-a"], unique("restart")
    apply(tenant, namespace(ns), deployment(ns, "r", 4))
    ens = edge_ns(sandbox, "tenant-a", ns)
    wait_for(lambda: converged(sandbox, ns, ens, 4), 90, "4 pods")
    edge = next(e for e in EDGES if items(sandbox[e], "pods", "-n", ens))
    before = _relists(syncer, edge)
    sandbox.run("stop", f"{edge}-apiserver")
    tenant.kubectl("-n", ns, "scale", "deployment", "r", "--replicas=6")
    _etcd_compact(sandbox)  # the versions the syncer last saw are gone: a re-watch gets 410
    sandbox.run("start", f"{edge}-apiserver")
    wait_for(lambda: sandbox[edge].kubectl("get", "--raw", "/readyz", check=False).returncode
             == 0, 60, "edge apiserver back")
    wait_for(lambda: _relists(syncer, edge) > before, 90, "informers re-listed after 410")
    wait_for(lambda: converged(sandbox, ns, ens, 6), 120, "6 pods after the restart")
    tenant.kubectl("delete", "namespace", ns, "--wait=false")


def test_drift_is_repaired_and_orphans_removed(sandbox: SandboxHandle,
                                               syncer: SyncerProcess) -> None:
    tenant, ns = sandbox["tenant-a"], unique("drift")
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg", "namespace": ns},
          "data": {"v": "tenant"}}
    apply(tenant, namespace(ns), cm,
          deployment(ns, "d", 2, container={"envFrom": [{"configMapRef": {"name": "cfg"}}]}))
    ens = edge_ns(sandbox, "tenant-a", ns)
    wait_for(lambda: converged(sandbox, ns, ens, 2), 90, "2 pods")
    edge = next(e for e in EDGES if items(sandbox[e], "pods", "-n", ens))
    # Someone edits the edge copy: it is put back.
    sandbox[edge].kubectl("-n", ens, "patch", "configmap", "cfg", "-p",
                          json.dumps({"data": {"v": "edited-on-edge"}}))
    wait_for(lambda: get_json(sandbox[edge], "configmap", "cfg", "-n", ens)["data"]["v"]
             == "tenant", 60, "edge copy repaired")
    # An edge pod vanishes: the tenant pod turns Failed and its ReplicaSet replaces it.
    victim = items(sandbox[edge], "pods", "-n", ens)[0]["metadata"]["name"]
    sandbox[edge].kubectl("-n", ens, "delete", "pod", victim, "--grace-period=0", "--force")
    wait_for(lambda: get_json(tenant, "pod", victim, "-n", ns)["status"].get("reason")
             == "EdgePodLost", 60, "tenant pod marked Failed")
    wait_for(lambda: len(running_pods(tenant, ns)) == 2, 90, "replacement running")
    # An orphan with fusionvc's markers and no tenant object: removed by the drift scan.
    orphan = {"apiVersion": "v1", "kind": "ConfigMap",
              "metadata": {"name": "orphan", "namespace": ens, "labels": {
                  "fusionvc.io/managed-by": "fusionvc", "fusionvc.io/tenant": "tenant-a"},
                  "annotations": {"fusionvc.io/tenant-namespace": ns,
                                  "fusionvc.io/tenant-name": "orphan",
                                  "fusionvc.io/tenant-uid": "gone"}},
              "data": {}}
    foreign = {"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": "foreign", "namespace": ens}, "data": {}}
    apply(sandbox[edge], orphan, foreign)
    wait_for(lambda: "orphan" not in sandbox[edge].kubectl("-n", ens, "get", "cm", "-o",
                                                          "name").stdout, 60, "orphan removed")
    assert "foreign" in sandbox[edge].kubectl("-n", ens, "get", "cm", "-o", "name").stdout
    tenant.kubectl("delete", "namespace", ns, "--wait=false")
