"""Operations: metrics, leader fail-over, graceful shutdown, manifests and RBAC, bad input.

Each test starts its own daemons, never the session's ``syncer`` (they must be the only
candidates for the Lease): run this module alone or before modules using that fixture.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from prometheus_client.metrics_core import Metric

from syncer.core import markers

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
from .sandbox_fixture import REPO, Cluster, SandboxHandle
from .syncer_fixture import SyncerProcess, running_syncers, wait_for
from .syncer_fixture import metric_samples as samples

Obj = dict[str, Any]
SYSTEM_NS, LEASE = "fusionvc-system", "fusionvc-syncer"
LEASE_DURATION_S = 15  # the default --leader-lease-duration
TAKEOVER_SLACK_S = 20  # retry period, jitter and a slow 2-core machine
DEPLOY = REPO / "config" / "deploy"
FAMILIES = {f"fusionvc_{name}": kind for kind, names in (  # counters without "_total"
    ("counter", "sync_operations queue_adds queue_retries informer_relists drift_findings "
                "informer_watch_restarts scheduler_attempts"),
    ("gauge", "queue_depth managed_objects cluster_reachable is_leader"),
    ("histogram", "sync_duration_seconds queue_wait_seconds scheduler_decision_duration_seconds "
                  "scheduler_plugin_duration_seconds")) for name in names.split()}
POD_DOWN = {"tenant": "tenant-a", "resource": "Pod", "direction": "down"}
PODS_SCHEDULED = 10  # one sampled scheduling cycle at the default 10% at least


# ---- daemons, the Lease, metrics ---------------------------------------------------------

def daemons(sandbox: SandboxHandle, *prefixes: str) -> AbstractContextManager[
        list[SyncerProcess]]:
    """Fresh names (a fresh log file each): a log read belongs to one process."""
    return running_syncers(sandbox, *(unique(p) for p in prefixes))


def holder(sandbox: SandboxHandle) -> str:
    out = sandbox["management"].kubectl("get", "lease", LEASE, "-n", SYSTEM_NS, "-o",
                                        "jsonpath={.spec.holderIdentity}", check=False)
    return out.stdout.strip() if out.returncode == 0 else ""


def wait_leading(sandbox: SandboxHandle, proc: SyncerProcess) -> None:
    wait_for(lambda: holder(sandbox) == proc.name and value(proc, "fusionvc_is_leader") == 1,
             LEASE_DURATION_S + 60, f"{proc.name} to hold the Lease (if another syncer holds it, "
             "it was not started by this module: run this module alone)")


def total(families: dict[str, Metric], sample: str, **labels: str) -> float:
    return sum(samples(families, sample, **labels))


def value(proc: SyncerProcess, sample: str, **labels: str) -> float:
    return total(proc.metrics(), sample, **labels)


def remove_namespace(sandbox: SandboxHandle, ns: str, ens: str) -> None:
    """Deletes a tenant namespace and waits for its edge pods to go (a leader must run)."""
    sandbox["tenant-a"].kubectl("delete", "namespace", ns, "--wait=false")
    wait_for(lambda: not edge_pods(sandbox, ens), 300, f"edge pods of {ns} removed", every=3)


# ---- 1. metrics ----------------------------------------------------------------------------

def test_metrics_exist_and_move_when_a_tenant_creates_pods(sandbox: SandboxHandle) -> None:
    tenant, ns = sandbox["tenant-a"], unique("ops-metrics")
    with daemons(sandbox, "ops-metrics") as [proc]:
        wait_leading(sandbox, proc)
        before = proc.metrics()
        assert {name: before[name].type for name in FAMILIES if name in before} == FAMILIES
        # Plugins are timed in 1 scheduling cycle of 10 (scheduler._sampled), and this
        # syncer may have scheduled an earlier test's pods before `before`: 10 pods make
        # 10 cycles after it, so one of them is sampled wherever the count stood.
        apply(tenant, namespace(ns), deployment(ns, "m", PODS_SCHEDULED))
        wait_for(lambda: len(running_pods(tenant, ns)) == PODS_SCHEDULED, 180,
                 f"{PODS_SCHEDULED} tenant pods Running")
        wait_for(lambda: value(proc, "fusionvc_managed_objects", tenant="tenant-a", kind="Pod")
                 >= PODS_SCHEDULED, 60, "managed_objects counts the edge pods")
        after = proc.metrics()

        def grew(sample: str, by: float = 1, **labels: str) -> None:
            was, now = total(before, sample, **labels), total(after, sample, **labels)
            assert now - was >= by, f"{sample}{labels}: {was} -> {now}"
        grew("fusionvc_sync_operations_total", 3, **POD_DOWN, result="success")
        grew("fusionvc_sync_duration_seconds_count", 3, **POD_DOWN)
        grew("fusionvc_sync_operations_total", tenant="tenant-a", resource="Node", direction="up")
        grew("fusionvc_queue_adds_total", 3, tenant="tenant-a")
        grew("fusionvc_queue_wait_seconds_count", 3, tenant="tenant-a")
        grew("fusionvc_scheduler_attempts_total", 3, result="scheduled")
        grew("fusionvc_scheduler_decision_duration_seconds_count", 3, result="scheduled")
        grew("fusionvc_scheduler_plugin_duration_seconds_count", 3)
        assert samples(after, "fusionvc_queue_depth", tenant="tenant-a")
        for cluster in ("tenant-a", *EDGES):
            assert total(after, "fusionvc_informer_relists_total", cluster=cluster,
                         resource="pods") >= 1, cluster
        assert total(after, "fusionvc_managed_objects", tenant="tenant-a", kind="Namespace") >= 1
        # A leader that started moments ago reports each cluster once its informers have
        # answered; the tenant pods may all be Running before the last edge has loaded.
        wait_for(lambda: not _unreachable_or_not_leading(proc.metrics()), 60,
                 "every cluster reported reachable by the leader")
        remove_namespace(sandbox, ns, edge_ns(sandbox, "tenant-a", ns))


def _unreachable_or_not_leading(families: dict[str, Metric]) -> list[str]:
    roles = {"management": "management", "tenant-a": "tenant", "tenant-b": "tenant",
             **dict.fromkeys(EDGES, "edge")}
    problems = [f"{cluster} ({role}) not reported reachable" for cluster, role in roles.items()
                if samples(families, "fusionvc_cluster_reachable", cluster=cluster,
                           role=role) != [1]]
    if samples(families, "fusionvc_is_leader") != [1]:
        problems.append("not leading")
    return problems


def test_drift_metric_counts_removed_orphans_only(sandbox: SandboxHandle) -> None:
    tenant, ns = sandbox["tenant-a"], unique("ops-drift")
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg", "namespace": ns},
          "data": {"v": "1"}}
    orphans = "fusionvc_drift_findings_total"
    found = {"tenant": "tenant-a", "finding": "orphan_removed"}
    with daemons(sandbox, "ops-drift") as [proc]:
        wait_leading(sandbox, proc)
        apply(tenant, namespace(ns), cm,
              deployment(ns, "d", 1, container={"envFrom": [{"configMapRef": {"name": "cfg"}}]}))
        wait_for(lambda: running_pods(tenant, ns), 120, "pod running")
        ens = edge_ns(sandbox, "tenant-a", ns)
        edge = next(e for e in EDGES if items(sandbox[e], "pods", "-n", ens))
        before = value(proc, orphans, **found)
        gone = {"metadata": {"namespace": ns, "name": "orphan", "uid": "gone"}}
        apply(sandbox[edge], {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
            "name": "orphan", "namespace": ens, "labels": markers.marker_labels("tenant-a"),
            "annotations": markers.marker_annotations(gone)}})
        wait_for(lambda: "orphan" not in sandbox[edge].kubectl(
            "get", "cm", "-n", ens, "-o", "name").stdout, 60, "orphan removed")
        wait_for(lambda: value(proc, orphans, **found) == before + 1, 30, "orphan counted")
        # Ordinary clean-up (the tenant deletes its objects) is no drift finding.
        remove_namespace(sandbox, ns, ens)
        wait_for(lambda: not items(sandbox[edge], "cm", "-n", ens, "-l",
                                   markers.MANAGED_SELECTOR), 120, "copies removed")
        assert value(proc, orphans, **found) == before + 1


# ---- 2. leader election ----------------------------------------------------------------

def test_standby_takes_over_after_kill_9_without_doing_anything_twice(
        sandbox: SandboxHandle) -> None:
    tenant, ns = sandbox["tenant-a"], unique("ops-failover")
    with daemons(sandbox, "ops-a", "ops-b") as procs:
        by_name = {p.name: p for p in procs}
        leader = by_name[wait_for(lambda: holder(sandbox) in by_name and holder(sandbox),
                                  LEASE_DURATION_S + 60, "one of the two to hold the Lease")]
        standby = next(p for p in procs if p is not leader)
        wait_leading(sandbox, leader)
        apply(tenant, namespace(ns), deployment(ns, "first", 3))
        ens = edge_ns(sandbox, "tenant-a", ns)
        wait_for(lambda: converged(sandbox, ns, ens, 3), 120, "3 pods by the leader")
        assert value(leader, "fusionvc_sync_operations_total") > 0
        assert value(standby, "fusionvc_sync_operations_total") == 0, "the standby synced"
        assert value(standby, "fusionvc_is_leader") == 0
        assert holder(sandbox) == leader.name

        leader.kill()
        killed = time.monotonic()
        apply(tenant, deployment(ns, "second", 4))  # work pending while nobody leads
        wait_for(lambda: holder(sandbox) == standby.name, LEASE_DURATION_S + TAKEOVER_SLACK_S,
                 "the standby to take the Lease over")
        print(f"take-over after {time.monotonic() - killed:.1f}s")
        wait_for(lambda: converged(sandbox, ns, ens, 7), 180, "7 pods, one edge pod each")
        assert value(standby, "fusionvc_is_leader") == 1
        assert value(standby, "fusionvc_sync_operations_total", **POD_DOWN) >= 4
        remove_namespace(sandbox, ns, ens)


# ---- 3. graceful shutdown -----------------------------------------------------------------

def test_sigterm_mid_rollout_exits_cleanly_and_a_restart_converges(
        sandbox: SandboxHandle) -> None:
    tenant, ns, replicas = sandbox["tenant-a"], unique("ops-term"), 200
    pod_spec = yaml.safe_load((DEPLOY / "deployment.yaml").read_text())["spec"]["template"]
    grace = int(pod_spec["spec"]["terminationGracePeriodSeconds"])  # then the kubelet kills
    with daemons(sandbox, "ops-term") as [proc]:
        wait_leading(sandbox, proc)
        apply(tenant, namespace(ns), deployment(ns, "roll", replicas))
        ens = edge_ns(sandbox, "tenant-a", ns)
        wait_for(lambda: len(edge_pods(sandbox, ens)) >= 10, 180, "rollout under way", every=0.2)
        assert proc.proc is not None
        signalled = time.monotonic()
        proc.proc.send_signal(signal.SIGTERM)
        code = proc.proc.wait(grace + 60)
        took = time.monotonic() - signalled
        synced = len(edge_pods(sandbox, ens))
    assert code == 0, f"exit code {code} after SIGTERM"
    assert took < grace, f"exited {took:.1f}s after SIGTERM; the kubelet kills at {grace}s"
    assert synced < replicas, "the rollout was over before SIGTERM: nothing was interrupted"
    log = proc.log_path.read_text(errors="replace")
    for leak in ("Unclosed client session", "Unclosed connector"):
        assert leak not in log, f"{leak!r} in {proc.log_path}"
    assert '"event": "stopped"' in log
    with daemons(sandbox, "ops-term-restart") as [again]:
        wait_leading(sandbox, again)
        wait_for(lambda: converged(sandbox, ns, ens, replicas), 600,
                 f"{replicas} pods Running, one edge pod each", every=5)
        remove_namespace(sandbox, ns, ens)


# ---- 4. manifests and RBAC -----------------------------------------------------------------

def test_manifests_pass_a_server_side_dry_run(sandbox: SandboxHandle) -> None:
    mgmt = sandbox["management"]
    kustomization = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())
    files = [*(DEPLOY / r for r in kustomization["resources"]),
             *(REPO / "config" / "crd").glob("*.yaml"), *(DEPLOY / "examples").glob("*.yaml")]
    # kubectl takes -f or -k, not both: the CRDs and examples by file, the rest as installed.
    output = ""
    for source in (("-f", str(REPO / "config" / "crd")), ("-k", str(DEPLOY)),
                   ("-f", str(DEPLOY / "examples"))):
        out = mgmt.kubectl("apply", "--dry-run=server", "--validate=strict", *source,
                           check=False)
        assert out.returncode == 0, f"{source}: {out.stderr}"
        output += out.stdout
    for doc in (d for f in files for d in yaml.safe_load_all(f.read_text()) if d):
        kind, name = doc["kind"].lower(), doc["metadata"]["name"]
        line = rf"^{kind}(\.[a-z0-9.]+)?/{re.escape(name)} .*\(server dry run\)$"
        assert re.search(line, output, re.MULTILINE), f"{kind}/{name} not validated:\n{output}"


@pytest.fixture(scope="module")
def service_account(sandbox: SandboxHandle) -> Iterator[str]:
    """The syncer's ServiceAccount and RBAC from config/deploy, created for real."""
    files = [str(DEPLOY / "serviceaccount.yaml"), str(DEPLOY / "rbac.yaml")]
    mgmt = sandbox["management"]
    mgmt.kubectl("apply", *(a for f in files for a in ("-f", f)))
    name = yaml.safe_load((DEPLOY / "serviceaccount.yaml").read_text())["metadata"]["name"]
    yield name
    mgmt.kubectl("delete", "--ignore-not-found", *(a for f in files for a in ("-f", f)))


FUSIONVC, LEASES = ("tenants.fusionvc.io", "edgeclusters.fusionvc.io"), "leases.coordination.k8s.io"
ALLOWED = [*((v, r, None) for v in ("list", "watch") for r in FUSIONVC),
           *(("patch", r, "status") for r in FUSIONVC),
           ("patch", FUSIONVC[0], None),  # the fusionvc.io/cleanup finalizer
           *((v, "secrets", SYSTEM_NS) for v in ("get", "list", "watch")),
           *((v, f"{LEASES}/{LEASE}", SYSTEM_NS) for v in ("get", "update")),
           ("create", LEASES, SYSTEM_NS)]
DENIED = [("get", "secrets", "default"), ("get", "secrets", "kube-system"),
          ("list", "secrets", "kube-system"), *(("delete", r, None) for r in FUSIONVC),
          ("create", "pods", SYSTEM_NS), ("create", "pods", "default"),
          ("update", f"{LEASES}/other", SYSTEM_NS)]


def _can(mgmt: Cluster, account: str, verb: str, resource: str, where: str | None) -> bool:
    args = ["auth", "can-i", verb, resource, f"--as=system:serviceaccount:{SYSTEM_NS}:{account}"]
    if where == "status":
        args.append("--subresource=status")
    elif where:
        args += ["-n", where]
    out = mgmt.kubectl(*args, check=False)
    assert out.stdout.strip() in ("yes", "no"), out.stderr
    return out.stdout.strip() == "yes"


def test_rbac_grants_the_syncer_only_what_it_needs(sandbox: SandboxHandle,
                                                   service_account: str) -> None:
    mgmt = sandbox["management"]
    missing = [c for c in ALLOWED if not _can(mgmt, service_account, *c)]
    extra = [c for c in DENIED if _can(mgmt, service_account, *c)]
    assert not missing, f"the syncer's ServiceAccount cannot {missing}"
    assert not extra, f"the syncer's ServiceAccount may {extra}"


# ---- 5. bad input ---------------------------------------------------------------------------

def _expired_client_cert(ca_dir: Path) -> tuple[bytes, bytes]:
    """A client certificate signed by the cluster's own CA that expired yesterday."""
    ca = x509.load_pem_x509_certificate((ca_dir / "ca.crt").read_bytes())
    ca_key = serialization.load_pem_private_key((ca_dir / "ca.key").read_bytes(), None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    key, now = ec.generate_private_key(ec.SECP256R1()), dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fusionvc-old")]))
            .issuer_name(ca.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=30))
            .not_valid_after(now - dt.timedelta(days=1))
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), False)
            .sign(ca_key, hashes.SHA256()))
    return (cert.public_bytes(serialization.Encoding.PEM),
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()))


def _bad_kubeconfigs(sandbox: SandboxHandle) -> dict[str, tuple[bytes, str, str]]:
    """case -> (kubeconfig, expected reason, words of the message), all aimed at tenant-b."""
    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode()
    good = yaml.safe_load(Path(sandbox["tenant-b"].syncer_kubeconfig).read_text())
    wrong_ca = json.loads(json.dumps(good))
    wrong_ca["clusters"][0]["cluster"]["certificate-authority-data"] = b64(
        (sandbox.dir / "pki" / "edge-bj" / "ca.crt").read_bytes())
    expired = json.loads(json.dumps(good))
    cert, key = _expired_client_cert(sandbox.dir / "pki" / "tenant-b")
    expired["users"][0]["user"].update({"client-certificate-data": b64(cert),
                                        "client-key-data": b64(key)})
    return {"garbage": (b"\x00 definitely: [not a kubeconfig", "KubeconfigInvalid",
                        "is not a kubeconfig"),
            "wrongca": (yaml.safe_dump(wrong_ca).encode(), "CertificateInvalid", "certificate"),
            "expired": (yaml.safe_dump(expired).encode(), "Unauthorized", "expired")}


def _register(sandbox: SandboxHandle, kind: str, name: str, kubeconfig: bytes) -> None:
    ref = {"name": f"{name}-kubeconfig", "namespace": SYSTEM_NS, "key": "kubeconfig"}
    spec: Obj = {"kubeconfigSecretRef": ref}
    if kind == "EdgeCluster":
        spec.update(region="cn-beijing", latencyMs={"cn-beijing": 5})
    apply(sandbox["management"],
          {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
           "metadata": {"name": ref["name"], "namespace": SYSTEM_NS},
           "data": {"kubeconfig": base64.b64encode(kubeconfig).decode()}},
          {"apiVersion": "fusionvc.io/v1alpha1", "kind": kind, "metadata": {"name": name},
           "spec": spec})


def _ready_condition(sandbox: SandboxHandle, kind: str, name: str) -> Obj | None:
    conds = get_json(sandbox["management"], kind, name).get("status", {}).get("conditions", [])
    return next((c for c in conds if c["type"] == "Ready"), None)


def _unregister(sandbox: SandboxHandle, objs: list[tuple[str, str]]) -> None:
    """Deletes the objects (a running leader lifts the Tenant finalizer), then their Secrets."""
    mgmt = sandbox["management"]
    for kind, name in objs:
        mgmt.kubectl("delete", kind, name, "--ignore-not-found", "--wait=false")
    try:  # a Tenant left behind is finished by the next leader
        wait_for(lambda: not any(mgmt.kubectl("get", k, n, check=False).returncode == 0
                                 for k, n in objs), 90, "bad Tenants and EdgeClusters deleted")
    finally:
        for _, name in objs:
            mgmt.kubectl("delete", "secret", f"{name}-kubeconfig", "-n", SYSTEM_NS,
                         "--ignore-not-found")


def test_bad_kubeconfigs_are_reported_while_real_tenants_sync(sandbox: SandboxHandle) -> None:
    tenant, ns, suffix = sandbox["tenant-a"], unique("ops-bad"), unique("x")[2:]
    cases = _bad_kubeconfigs(sandbox)
    objs = [("Tenant", f"ops-{case}-{suffix}", case) for case in cases]
    objs.append(("EdgeCluster", f"ops-edge-wrongca-{suffix}", "wrongca"))
    with daemons(sandbox, "ops-bad") as [proc]:
        wait_leading(sandbox, proc)
        try:
            for kind, name, case in objs:
                _register(sandbox, kind, name, cases[case][0])
            apply(tenant, namespace(ns), deployment(ns, "ok", 1))
            for kind, name, case in objs:
                cond = wait_for(functools.partial(_ready_condition, sandbox, kind, name), 90,
                                f"a Ready condition on {kind} {name}")
                assert (cond["status"], cond["reason"]) == ("False", cases[case][1]), cond
                assert cases[case][2] in cond["message"], cond
            wait_for(lambda: running_pods(tenant, ns), 120, "tenant-a pod Running")
            wait_for(lambda: (_ready_condition(sandbox, "Tenant", "tenant-a") or {}).get(
                "status") == "True", 60, "tenant-a Ready")  # refreshed every 15 s
            assert samples(proc.metrics(), "fusionvc_cluster_reachable", cluster=objs[0][1],
                           role="tenant") == [0]
        finally:
            _unregister(sandbox, [(kind, name) for kind, name, _ in objs])
        remove_namespace(sandbox, ns, edge_ns(sandbox, "tenant-a", ns))


@pytest.mark.parametrize(("args", "env", "named"), [
    (("--workers", "0"), {}, "--workers"),
    ((), {"FUSIONVC_LEADER_RENEW_DEADLINE": "99"}, "FUSIONVC_LEADER_RENEW_DEADLINE"),
], ids=["workers-flag", "renew-deadline-env"])
def test_bad_setting_stops_the_syncer_naming_it(args: tuple[str, ...], env: dict[str, str],
                                                named: str) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FUSIONVC_")}
    out = subprocess.run([sys.executable, "-m", "syncer", "--kubeconfig=/nonexistent", *args],
                         cwd=REPO, env={**clean, **env}, capture_output=True, text=True,
                         timeout=60, check=False)
    assert out.returncode != 0
    assert named in out.stderr, out.stderr
