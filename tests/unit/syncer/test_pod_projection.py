"""Tokens, the CA and downward API volumes read the pod's own Secret of tenant values
(syncer/kinds/pod_projection.py, pod_tokens.py): table tests of the pure parts."""

from __future__ import annotations

import base64
import copy
from typing import Any

import pytest

from syncer.kinds.pod_projection import (
    PodAPIAccess,
    TokenWant,
    field_key,
    needs_pod_secret,
    pod_secret_name,
    project_pod_secret,
    tenant_field_paths,
    tenant_field_value,
    wanted_tokens,
    wants_ca,
)
from syncer.kinds.pod_tokens import (
    pod_secret_index,
    refresh_at,
    token_request,
    translate_pod_secret,
)
from syncer.kinds.pod_translate import translate_pod_down
from syncer.kube import Obj
from tests.builders import container, pod, pod_spec

ACCESS = PodAPIAccess("fusionvc-pod-abc", "tenant-api.example", 6443)
TOKEN = {"serviceAccountToken": {"path": "token", "expirationSeconds": 3607}}
VAULT = {"serviceAccountToken": {"path": "vault-token", "audience": "vault",
                                 "expirationSeconds": 600}}
ROOT_CA = {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt",
                                                               "path": "ca.crt"}]}}
NAMESPACE = {"downwardAPI": {"items": [{"path": "namespace",
                                        "fieldRef": {"fieldPath": "metadata.namespace"}}]}}
INJECTED = {"name": "kube-api-access-x7k2p", "projected": {"defaultMode": 420,
                                                           "sources": [TOKEN, ROOT_CA, NAMESPACE]}}


def tenant_pod(*volumes: Obj, **meta: Any) -> Obj:
    mounts = [{"name": v["name"], "mountPath": f"/m/{v['name']}"} for v in volumes]
    p = pod("shop", "web", uid="tenant-pod-uid", spec=pod_spec(
        containers=[container(volumeMounts=mounts, env=[{"name": "OWN", "value": "1"}])],
        volumes=list(volumes), serviceAccountName="builder"))
    p["metadata"].update(meta)
    return p


def projected(p: Obj) -> Obj:
    spec = copy.deepcopy(p["spec"])
    project_pod_secret(spec, p, ACCESS)
    return spec


def secret_items(*items: tuple[str, str]) -> Obj:
    return {"secret": {"name": ACCESS.secret, "items": [{"key": k, "path": p}
                                                        for k, p in items]}}


def test_the_injected_volume_reads_the_tenant_token_ca_and_namespace() -> None:
    spec = projected(tenant_pod(INJECTED))
    token = TokenWant("", 3607).key
    assert spec["volumes"] == [{"name": "kube-api-access-x7k2p", "projected": {
        "defaultMode": 420, "sources": [secret_items((token, "token")),
                                        secret_items(("ca.crt", "ca.crt")),
                                        secret_items((field_key("metadata.namespace"),
                                                      "namespace"))]}}]


def test_a_token_with_an_audience_has_its_own_key_and_other_sources_stay() -> None:
    mixed = {"name": "bundle", "projected": {"sources": [{"configMap": {"name": "settings"}},
                                                         VAULT]}}
    spec = projected(tenant_pod(mixed))
    assert spec["volumes"][0]["projected"]["sources"] == [
        {"configMap": {"name": "settings"}},
        secret_items((TokenWant("vault", 600).key, "vault-token"))]
    assert TokenWant("vault", 600).key != TokenWant("", 600).key != TokenWant("vault", 3600).key


def test_a_pod_with_a_token_finds_its_tenant_apiserver_before_its_own_env() -> None:
    env = projected(tenant_pod(INJECTED))["containers"][0]["env"]
    values = {e["name"]: e["value"] for e in env}
    assert values["KUBERNETES_SERVICE_HOST"] == "tenant-api.example"
    assert values["KUBERNETES_SERVICE_PORT"] == "6443"
    assert values["KUBERNETES_PORT_443_TCP"] == "tcp://tenant-api.example:6443"
    assert env[-1] == {"name": "OWN", "value": "1"}  # the tenant's own value comes last, wins


DOWNWARD_CASES = [  # (volume, the volume on the edge)
    ({"name": "info", "downwardAPI": {"defaultMode": 256, "items": [
        {"path": "uid", "fieldRef": {"fieldPath": "metadata.uid"}},
        {"path": "name", "fieldRef": {"fieldPath": "metadata.name"}},
        {"path": "cpu", "resourceFieldRef": {"containerName": "main", "resource": "limits.cpu"}},
    ]}}, {"name": "info", "projected": {"defaultMode": 256, "sources": [
        {"downwardAPI": {"items": [
            {"path": "name", "fieldRef": {"fieldPath": "metadata.name"}},
            {"path": "cpu", "resourceFieldRef": {"containerName": "main",
                                                 "resource": "limits.cpu"}}]}},
        secret_items((field_key("metadata.uid"), "uid"))]}}),
    ({"name": "labels", "downwardAPI": {"items": [
        {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}, "mode": 0o400}]}},
     {"name": "labels", "projected": {"sources": [{"secret": {"name": ACCESS.secret, "items": [
         {"key": field_key("metadata.labels"), "path": "labels", "mode": 0o400}]}}]}}),
    ({"name": "name-only", "downwardAPI": {"items": [
        {"path": "name", "fieldRef": {"fieldPath": "metadata.name"}}]}},
     {"name": "name-only", "downwardAPI": {"items": [
         {"path": "name", "fieldRef": {"fieldPath": "metadata.name"}}]}}),
    ({"name": "ca", "configMap": {"name": "kube-root-ca.crt", "defaultMode": 292}},
     {"name": "ca", "secret": {"secretName": ACCESS.secret, "defaultMode": 292,
                               "items": [{"key": "ca.crt", "path": "ca.crt"}]}}),
]


@pytest.mark.parametrize(("volume", "want"), DOWNWARD_CASES,
                         ids=["uid", "labels", "name-only", "root-ca"])
def test_downward_api_volumes_read_tenant_values(volume: Obj, want: Obj) -> None:
    assert projected(tenant_pod(volume))["volumes"] == [want]


NEED_CASES = [v for v, _ in DOWNWARD_CASES] + [
    {"name": "data", "emptyDir": {}},
    {"name": "token", "projected": {"sources": [{"serviceAccountToken": {"path": "t"}}]}},
    {"name": "ca", "projected": {"sources": [{"configMap": {"name": "kube-root-ca.crt"}}]}},
    {"name": "other", "projected": {"sources": [{"configMap": {"name": "app"}}]}},
    {"name": "dw", "projected": {"sources": [{"downwardAPI": {"items": [
        {"path": "u", "fieldRef": {"fieldPath": "metadata.uid"}}]}}]}},
]


@pytest.mark.parametrize("volume", NEED_CASES)
def test_needs_pod_secret_is_any_of_its_three_reasons(volume: Obj) -> None:
    p = tenant_pod(volume)
    assert needs_pod_secret(p) == bool(wanted_tokens(p) or wants_ca(p) or tenant_field_paths(p))


def test_a_pod_without_tenant_values_is_unchanged() -> None:
    p = tenant_pod({"name": "data", "emptyDir": {}})
    assert not needs_pod_secret(p)
    assert projected(p) == p["spec"]


FIELD_CASES = [
    ("metadata.uid", "tenant-pod-uid"),
    ("metadata.namespace", "shop"),
    ("metadata.labels", 'app="web"\ntier="front end"'),
    ("metadata.labels['tier']", "front end"),
    ("metadata.annotations['missing']", ""),
    ("spec.serviceAccountName", "builder"),
    ("metadata.name", None),  # the same on both sides
    ("status.podIP", None),
]


@pytest.mark.parametrize(("path", "want"), FIELD_CASES)
def test_tenant_field_values(path: str, want: str | None) -> None:
    p = tenant_pod(labels={"app": "web", "tier": "front end"})
    assert tenant_field_value(p, path) == want


def test_translate_pod_down_projects_only_with_access() -> None:
    p = tenant_pod(INJECTED)
    kw: dict[str, Any] = {"tenant": "t", "edge_namespace": "t-1-shop", "edge_node": "n1",
                          "virtual_node": "vn-e-n1"}
    stripped = translate_pod_down(p, **kw)["spec"]
    assert stripped["volumes"] == []
    spec = translate_pod_down(p, **kw, pod_api=ACCESS)["spec"]
    assert spec["automountServiceAccountToken"] is False
    assert spec["volumes"][0]["name"] == "kube-api-access-x7k2p"
    text = repr(spec)
    assert "serviceAccountToken" not in text and "kube-root-ca.crt" not in text


def test_the_pod_secret_holds_tokens_ca_and_values_and_names_its_pod() -> None:
    p = tenant_pod(INJECTED, labels={"app": "web"})
    key = TokenWant("", 3607).key
    secret = translate_pod_secret(p, name=pod_secret_name("tenant-pod-uid"), tenant="tenant-a",
                                  edge_namespace="e-shop", tokens={key: "tok"}, ca="CA",
                                  refresh=1000.0)
    data = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    assert data == {key: "tok", "ca.crt": "CA", field_key("metadata.namespace"): "shop"}
    assert pod_secret_index(secret) == ["tenant-a/shop/web"]
    assert "fusionvc.io/tenant" not in secret["metadata"]["labels"]  # not a tenant copy


def test_token_request_is_bound_to_the_tenant_pod_with_the_audience_asked() -> None:
    body = token_request(tenant_pod(), TokenWant("vault", 600))
    assert body["spec"] == {"audiences": ["vault"], "expirationSeconds": 600, "boundObjectRef": {
        "apiVersion": "v1", "kind": "Pod", "name": "web", "uid": "tenant-pod-uid"}}
    assert token_request(tenant_pod(), TokenWant("", 3600))["spec"]["audiences"] == []


@pytest.mark.parametrize(("lifetime", "renew_after"), [
    (600, 480), (3600, 2880), (365 * 86400, 86400), (0, 0)])
def test_tokens_are_renewed_after_80_percent_of_their_life_or_a_day(
        lifetime: float, renew_after: float) -> None:
    assert refresh_at(1000.0, 1000.0 + lifetime) == 1000.0 + renew_after
