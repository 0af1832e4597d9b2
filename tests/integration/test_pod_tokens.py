"""A pod's ServiceAccount token is its tenant's, never an edge credential (issue 18, item 2),
and its downward API volumes read the tenant's values (item 8).

Before: the token volume was removed (or, earlier, the edge's token mounted); a
downward API volume's metadata.uid gave the edge pod's UID.
"""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import urlsplit

from syncer.kinds.pod_projection import TokenWant, field_key, pod_secret_name
from syncer.kinds.pod_tokens import REFRESH_AT

from .kube_helpers import EDGES, apply, edge_ns, get_json, items, namespace, running_pods, unique
from .sandbox_fixture import Cluster, SandboxHandle
from .syncer_fixture import SyncerProcess, wait_for
from .test_hostile_pods import hardened_pod, live_edge_pod

Obj = dict[str, Any]
INJECTED_TOKEN = TokenWant("", 3607).key  # what the tenant's ServiceAccount admission asks


def token_review(cluster: Cluster, token: str) -> Obj:
    review = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
              "spec": {"token": token}}
    out: Obj = json.loads(cluster.kubectl("create", "-f", "-", "-o", "json",
                                          stdin=json.dumps(review)).stdout)
    return out["status"]


def secret_values(cluster: Cluster, ns: str, name: str) -> dict[str, str] | None:
    found = [s for s in items(cluster, "secrets", "-n", ns) if s["metadata"]["name"] == name]
    if not found:
        return None
    return {k: base64.b64decode(v).decode() for k, v in (found[0].get("data") or {}).items()}


def uid_volume() -> Obj:
    return {"name": "podinfo", "downwardAPI": {"items": [
        {"path": "uid", "fieldRef": {"fieldPath": "metadata.uid"}},
        {"path": "name", "fieldRef": {"fieldPath": "metadata.name"}}]}}


def test_a_pod_token_is_the_tenants_rotated_and_removed_with_the_pod(
        sandbox: SandboxHandle, syncer: SyncerProcess) -> None:
    tenant, ns = sandbox["tenant-a"], unique("token")
    pod = hardened_pod(ns, "api-client", automountServiceAccountToken=True,
                       volumes=[uid_volume()])
    pod["spec"]["containers"][0]["volumeMounts"] = [{"name": "podinfo", "mountPath": "/info"}]
    apply(tenant, namespace(ns), pod)
    wait_for(lambda: running_pods(tenant, ns), 90, "pod running")
    tpod = get_json(tenant, "pod", "api-client", "-n", ns)
    ens = edge_ns(sandbox, "tenant-a", ns)
    found = live_edge_pod(sandbox, ens, "api-client")
    assert found is not None
    edge, epod = sandbox[found[0]], found[1]
    secret = pod_secret_name(tpod["metadata"]["uid"])

    # The edge pod reads its own Secret, no token source of the edge, and no edge CA.
    text = json.dumps(epod["spec"])
    assert epod["spec"]["automountServiceAccountToken"] is False
    assert "serviceAccountToken" not in text and "kube-root-ca.crt" not in text
    assert f'"{secret}"' in text
    env = {e["name"]: e.get("value") for e in epod["spec"]["containers"][0]["env"]}
    api = urlsplit(tenant.url)
    assert (env["KUBERNETES_SERVICE_HOST"], env["KUBERNETES_SERVICE_PORT"]) == (
        api.hostname, str(api.port))

    values = wait_for(lambda: secret_values(edge, ens, secret), 60, "the pod's Secret")
    review = token_review(tenant, values[INJECTED_TOKEN])
    assert review["authenticated"] is True
    assert review["user"]["username"] == f"system:serviceaccount:{ns}:default"
    assert review["user"]["extra"]["authentication.kubernetes.io/pod-uid"] == [
        tpod["metadata"]["uid"]]
    assert not token_review(edge, values[INJECTED_TOKEN]).get("authenticated")
    tenant_ca = get_json(tenant, "configmap", "kube-root-ca.crt", "-n", ns)["data"]["ca.crt"]
    assert values["ca.crt"] == tenant_ca
    assert values[field_key("metadata.uid")] == tpod["metadata"]["uid"]  # item 8

    # Rotation: a token due for renewal is replaced by a new one the tenant accepts.
    edge.kubectl("annotate", "secret", secret, "-n", ens, f"{REFRESH_AT}=0", "--overwrite")
    renewed = wait_for(lambda: (v := secret_values(edge, ens, secret)) and v[
        INJECTED_TOKEN] != values[INJECTED_TOKEN] and v, 60, "a renewed token")
    assert token_review(tenant, renewed[INJECTED_TOKEN])["authenticated"] is True

    # Deletion: the Secret goes with the pod, and its token dies with the tenant pod.
    tenant.kubectl("delete", "pod", "api-client", "-n", ns, "--wait=false")
    wait_for(lambda: all(secret_values(sandbox[e], ens, secret) is None for e in EDGES), 90,
             "the pod's Secret removed")
    wait_for(lambda: not token_review(tenant, renewed[INJECTED_TOKEN]).get("authenticated"),
             60, "the token invalid once the tenant pod is gone")
    tenant.kubectl("delete", "namespace", ns, "--wait=false")


def test_a_pod_may_not_name_another_pods_secret(sandbox: SandboxHandle,
                                                syncer: SyncerProcess) -> None:
    tenant, ns = sandbox["tenant-a"], unique("steal")
    steal = {"name": "s", "secret": {"secretName": pod_secret_name("someone-else")}}
    pod = hardened_pod(ns, "thief", volumes=[steal])
    apply(tenant, namespace(ns), pod)

    def refused() -> bool:
        conds = get_json(tenant, "pod", "thief", "-n", ns)["status"].get("conditions") or []
        return any("reserved for fusionvc" in c.get("message", "") for c in conds)
    wait_for(refused, 60, "the pod refused, in tenant terms")
    assert not live_edge_pod(sandbox, edge_ns(sandbox, "tenant-a", ns), "thief")
    tenant.kubectl("delete", "namespace", ns, "--wait=false")
