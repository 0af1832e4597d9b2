"""Registry credentials (issue 15): tenant-a's platform registry (config/sandbox.yaml) reaches
its edge pods that pull from it, as a pull Secret fusionvc manages, and nowhere else:
not tenant-a's API, not its other pods, not tenant-b's pods on the same edge, not the logs."""

from __future__ import annotations

import base64
import json

from syncer.fleet.registries import PULL_SECRET
from tests.builders import container, pod, pod_spec

from .kube_helpers import EDGES, apply, edge_ns, get_json, items, namespace, running_pods, unique
from .sandbox_fixture import SandboxHandle
from .syncer_fixture import SyncerProcess, wait_for

SERVER = "registry.local:5000"  # tenant-a's registry in config/sandbox.yaml
PASSWORD = "sandbox-only-a"
CREDENTIALS_SECRET = "tenant-a-registry-0"  # hack/sandbox_lib/seed.py names it so
BEIJING = {"topology.kubernetes.io/region": "cn-beijing"}  # both tenants on edge-bj


def _pod(ns: str, name: str, image: str) -> dict[str, object]:
    return pod(ns, name, spec=pod_spec(containers=[container(image=image)],
                                       nodeSelector=BEIJING))


def _auths(secret: dict[str, object]) -> dict[str, dict[str, str]]:
    data = secret["data"]
    assert isinstance(data, dict)
    config = json.loads(base64.b64decode(data[".dockerconfigjson"]))
    auths: dict[str, dict[str, str]] = config["auths"]
    return auths


def _edge_secret(sandbox: SandboxHandle, ens: str) -> dict[str, object] | None:
    found = [s for s in items(sandbox["edge-bj"], "secrets", "-n", ens)
             if s["metadata"]["name"] == PULL_SECRET]
    return found[0] if found else None


def _set_password(sandbox: SandboxHandle, password: str) -> None:
    sandbox["management"].kubectl(
        "patch", "secret", CREDENTIALS_SECRET, "-n", "fusionvc-system", "--type=merge", "-p",
        json.dumps({"stringData": {"password": password}}))


def test_credentials_reach_only_the_pods_pulling_from_the_registry(
        sandbox: SandboxHandle, syncer: SyncerProcess) -> None:
    ns = unique("registry")
    image = f"{SERVER}/inference/model-server:1"
    a, b = sandbox["tenant-a"], sandbox["tenant-b"]
    apply(a, namespace(ns), _pod(ns, "infer", image), _pod(ns, "hub", "nginx:1.27"))
    apply(b, namespace(ns), _pod(ns, "infer", image))
    wait_for(lambda: len(running_pods(a, ns)) == 2, 90, "tenant-a pods Running")
    wait_for(lambda: len(running_pods(b, ns)) == 1, 90, "tenant-b pod Running")
    ens_a, ens_b = edge_ns(sandbox, "tenant-a", ns), edge_ns(sandbox, "tenant-b", ns)
    edge_a = {p["metadata"]["name"]: p for p in items(sandbox["edge-bj"], "pods", "-n", ens_a)}
    edge_b = items(sandbox["edge-bj"], "pods", "-n", ens_b)
    assert set(edge_a) == {"infer", "hub"} and len(edge_b) == 1, "both tenants on edge-bj"

    assert edge_a["infer"]["spec"]["imagePullSecrets"] == [{"name": PULL_SECRET}]
    assert "imagePullSecrets" not in edge_a["hub"]["spec"], "pulls from Docker Hub"
    secret = _edge_secret(sandbox, ens_a)
    assert secret is not None and secret["type"] == "kubernetes.io/dockerconfigjson"
    assert set(_auths(secret)) == {SERVER}
    entry = _auths(secret)[SERVER]
    assert (entry["username"], entry["password"]) == ("tenant-a-robot", PASSWORD)
    assert base64.b64decode(entry["auth"]).decode() == f"tenant-a-robot:{PASSWORD}"

    # tenant-b pulls the same image on the same edge, and never gets tenant-a's credentials.
    assert "imagePullSecrets" not in edge_b[0]["spec"]
    for edge in EDGES:
        b_secrets = items(sandbox[edge], "secrets", "-A", "-l",
                          "fusionvc.io/registry-credentials-of=tenant-b")
        assert not b_secrets
        for s in items(sandbox[edge], "secrets", "-A", "-l", "fusionvc.io/tenant=tenant-b"):
            assert PASSWORD not in json.dumps(s) and s["metadata"]["name"] != PULL_SECRET

    # The tenant never sees it: its pod, Secrets and Events, and the syncer's log.
    tenant_pod = get_json(a, "pod", "infer", "-n", ns)
    assert "imagePullSecrets" not in tenant_pod["spec"]
    encoded = base64.b64encode(PASSWORD.encode()).decode()
    for cluster in (a, b):
        seen = json.dumps([items(cluster, "secrets", "-A"), items(cluster, "events", "-A"),
                           items(cluster, "pods", "-A")])
        assert PASSWORD not in seen and encoded not in seen and PULL_SECRET not in seen
    logged = json.dumps(syncer.log_lines())
    assert PASSWORD not in logged and encoded not in logged

    tenant = get_json(sandbox["management"], "tenant", "tenant-a")
    cond = next(c for c in tenant["status"]["conditions"] if c["type"] == "RegistryCredentials")
    assert (cond["status"], cond["reason"]) == ("True", "Resolved")
    assert PASSWORD not in json.dumps(tenant)
    for cluster in (a, b):
        cluster.kubectl("delete", "namespace", ns, "--wait=false")


def test_rotated_credentials_follow_to_the_edge(sandbox: SandboxHandle,
                                                syncer: SyncerProcess) -> None:
    ns = unique("rotate")
    a = sandbox["tenant-a"]
    apply(a, namespace(ns), _pod(ns, "infer", f"{SERVER}/inference/model-server:1"))
    wait_for(lambda: len(running_pods(a, ns)) == 1, 90, "tenant-a pod Running")
    ens = edge_ns(sandbox, "tenant-a", ns)
    try:
        _set_password(sandbox, "rotated-a")
        wait_for(lambda: (s := _edge_secret(sandbox, ens)) is not None
                 and _auths(s)[SERVER]["password"] == "rotated-a", 60,
                 "the edge pull Secret to carry the rotated password")
    finally:
        _set_password(sandbox, PASSWORD)
    wait_for(lambda: (s := _edge_secret(sandbox, ens)) is not None
             and _auths(s)[SERVER]["password"] == PASSWORD, 60, "the password restored")
    a.kubectl("delete", "namespace", ns, "--wait=false")
