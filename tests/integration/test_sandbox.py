"""The sandbox of real clusters behaves as the rest of the suite relies on."""

from __future__ import annotations

import json
import time
from pathlib import Path

import yaml

from .sandbox_fixture import REPO, SandboxHandle, run_sandbox


def _json(out: str) -> dict:  # type: ignore[type-arg]
    return json.loads(out)


def test_status_lists_every_cluster_with_role_and_kubeconfig(sandbox: SandboxHandle) -> None:
    status = sandbox.status()
    assert status["up"] is True
    roles = {c["name"]: c["role"] for c in status["clusters"]}
    assert roles["management"] == "management"
    assert roles["tenant-a"] == roles["tenant-b"] == "tenant"
    assert sorted(n for n, r in roles.items() if r == "edge") == ["edge-bj", "edge-gz", "edge-sh"]
    for c in status["clusters"]:
        assert Path(c["kubeconfig"]).exists() and c["url"].startswith("https://127.0.0.1:")
        assert (c["region"] is not None) == (c["role"] == "edge")


def test_edge_nodes_ready_with_gpu_and_arm(sandbox: SandboxHandle) -> None:
    topo = yaml.safe_load((REPO / "config/sandbox.yaml").read_text())
    for spec in (c for c in topo["clusters"] if c["role"] == "edge"):
        nodes = _json(sandbox[spec["name"]].kubectl("get", "nodes", "-o", "json").stdout)["items"]
        expected = sum(g["count"] for g in spec["nodes"])
        assert len(nodes) == expected
        for node in nodes:
            ready = [c for c in node["status"]["conditions"] if c["type"] == "Ready"]
            assert ready and ready[0]["status"] == "True", node["metadata"]["name"]
        by_group = {g["name"]: g for g in spec["nodes"]}
        for node in nodes:
            group = by_group[node["metadata"]["name"].rsplit("-", 1)[0]]
            assert node["status"]["nodeInfo"]["architecture"] == group["arch"]
            assert node["metadata"]["labels"]["kubernetes.io/arch"] == group["arch"]
            if group.get("gpu"):
                assert node["status"]["allocatable"]["nvidia.com/gpu"] == str(group["gpu"])


def test_tenant_deployment_stays_pending_without_scheduler(sandbox: SandboxHandle) -> None:
    tenant = sandbox["tenant-a"]
    tenant.kubectl("create", "namespace", "sandbox-check")
    tenant.kubectl(
        "-n", "sandbox-check", "create", "deployment", "web", "--image=nginx", "--replicas=2"
    )
    deadline = time.monotonic() + 60
    pods: list[dict] = []  # type: ignore[type-arg]
    while time.monotonic() < deadline:
        pods = _json(tenant.kubectl("-n", "sandbox-check", "get", "pods", "-o", "json").stdout)[
            "items"
        ]
        if len(pods) == 2:
            break
        time.sleep(0.5)
    assert len(pods) == 2, "the tenant's controller-manager made no pods"
    rs = _json(tenant.kubectl("-n", "sandbox-check", "get", "rs", "-o", "json").stdout)["items"]
    assert len(rs) == 1
    assert all(p["status"]["phase"] == "Pending" and not p["spec"].get("nodeName") for p in pods)
    tenant.kubectl("delete", "namespace", "sandbox-check", "--wait=false")


def test_edge_pod_with_node_name_runs_with_ip(sandbox: SandboxHandle) -> None:
    edge = sandbox["edge-gz"]
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "direct", "namespace": "default"},
        "spec": {"nodeName": "gz-cpu-0", "containers": [{"name": "c", "image": "busybox"}]},
    }
    edge.kubectl("apply", "-f", "-", stdin=json.dumps(pod))
    edge.kubectl("wait", "--for=jsonpath={.status.phase}=Running", "pod/direct", "--timeout=60s")
    got = _json(edge.kubectl("get", "pod", "direct", "-o", "json").stdout)
    assert got["status"]["podIP"]
    edge.kubectl("delete", "pod", "direct", "--grace-period=0", "--force")


def test_management_lists_tenants_and_edge_clusters(sandbox: SandboxHandle) -> None:
    out = sandbox["management"].kubectl("get", "tenants,edgeclusters").stdout
    assert "tenant-a" in out and "tenant-b" in out and "edge-bj" in out
    header_lines = [ln for ln in out.splitlines() if ln.startswith("NAME")]
    assert any("MODE" in ln and "POD-SECURITY" in ln for ln in header_lines)
    assert any("REGION" in ln and "NODES" in ln for ln in header_lines)
    secrets = sandbox["management"].kubectl("-n", "fusionvc-system", "get", "secrets").stdout
    assert "tenant-a-kubeconfig" in secrets and "edge-sh-kubeconfig" in secrets


def test_up_twice_starts_no_second_copy(sandbox: SandboxHandle) -> None:
    before = sandbox.status()["processes"]
    out = sandbox.run("up").stdout
    assert "already up" in out
    assert sandbox.status()["processes"] == before
    pids = json.loads((sandbox.dir / "processes.json").read_text())
    assert len({p["pid"] for p in pids}) == len(pids)


def test_down_when_nothing_runs_is_a_noop(tmp_path: Path) -> None:
    proc = run_sandbox("--dir", str(tmp_path / "empty"), "down")
    assert "nothing was running" in proc.stdout


def test_malformed_topology_stops_up_naming_the_field(tmp_path: Path) -> None:
    doc = yaml.safe_load((REPO / "config/sandbox.yaml").read_text())
    doc["clusters"][2]["role"] = "spaceship"
    bad = tmp_path / "sandbox.yaml"
    bad.write_text(yaml.safe_dump(doc))
    proc = run_sandbox("--dir", str(tmp_path / "s"), "--config", str(bad), "up", check=False)
    assert proc.returncode == 1
    assert "clusters[2].role: unknown role 'spaceship'" in proc.stderr
    assert not (tmp_path / "s" / "processes.json").exists()
