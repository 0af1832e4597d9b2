"""Which ConfigMaps and Secrets a pod uses (syncer/kinds/dependents.py: dependency_refs)."""

from __future__ import annotations

from typing import Any

import pytest

from syncer.kinds.dependents import dependency_refs

Obj = dict[str, Any]
TOKEN_VOLUME = {"name": "kube-api-access-abcde", "projected": {"sources": [
    {"serviceAccountToken": {"path": "token"}},
    {"configMap": {"name": "kube-root-ca.crt"}},
    {"downwardAPI": {"items": []}}]}}


def pod(containers: list[Obj] | None = None, **spec: Any) -> Obj:
    return {"metadata": {"name": "p", "namespace": "ns"},
            "spec": {"containers": containers or [{"name": "app", "image": "i"}], **spec}}


def c(**fields: Any) -> Obj:
    return {"name": "app", "image": "i", **fields}


def env_ref(kind_key: str, name: str) -> Obj:
    return {"name": "E", "valueFrom": {kind_key: {"name": name, "key": "k"}}}


CASES: list[tuple[str, Obj, set[str], set[str]]] = [
    # (id, pod, ConfigMaps, Secrets)
    ("none", pod(), set(), set()),
    ("volumes", pod(volumes=[{"name": "a", "configMap": {"name": "cm-vol"}},
                             {"name": "b", "secret": {"secretName": "sec-vol"}},
                             {"name": "c", "emptyDir": {}}]), {"cm-vol"}, {"sec-vol"}),
    ("projected", pod(volumes=[{"name": "p", "projected": {"sources": [
        {"configMap": {"name": "cm-proj"}}, {"secret": {"name": "sec-proj"}},
        {"downwardAPI": {"items": []}}]}}]), {"cm-proj"}, {"sec-proj"}),
    ("env-valueFrom", pod([c(env=[env_ref("configMapKeyRef", "cm-env"),
                                  env_ref("secretKeyRef", "sec-env"),
                                  {"name": "F", "value": "x"},
                                  {"name": "G", "valueFrom": {"fieldRef": {
                                      "fieldPath": "metadata.name"}}}])]),
     {"cm-env"}, {"sec-env"}),
    ("envFrom", pod([c(envFrom=[{"configMapRef": {"name": "cm-from"}},
                                {"secretRef": {"name": "sec-from"}, "prefix": "S_"}])]),
     {"cm-from"}, {"sec-from"}),
    ("init-and-ephemeral", pod(initContainers=[c(envFrom=[{"configMapRef": {"name": "cm-i"}}])],
                               ephemeralContainers=[c(env=[env_ref("secretKeyRef", "sec-e")])]),
     {"cm-i"}, {"sec-e"}),
    ("imagePullSecrets", pod(imagePullSecrets=[{"name": "registry"}, {"name": "registry2"}]),
     set(), {"registry", "registry2"}),
    ("token-volume", pod(volumes=[TOKEN_VOLUME]), set(), set()),
    ("root-ca-elsewhere", pod(volumes=[{"name": "ca", "configMap": {"name": "kube-root-ca.crt"}}],
                              containers=[c(env=[env_ref("configMapKeyRef",
                                                         "kube-root-ca.crt")])]),
     set(), set()),
    ("nameless-refs", pod(volumes=[{"name": "a", "configMap": {}}, {"name": "b", "secret": {}}],
                          imagePullSecrets=[{}]), set(), set()),
    ("duplicates", pod([c(env=[env_ref("configMapKeyRef", "cm")],
                          envFrom=[{"configMapRef": {"name": "cm"}}])],
                       volumes=[{"name": "a", "configMap": {"name": "cm"}}]), {"cm"}, set()),
    ("everything", pod(
        [c(env=[env_ref("configMapKeyRef", "cm-env"), env_ref("secretKeyRef", "sec-env")],
           envFrom=[{"configMapRef": {"name": "cm-from"}}, {"secretRef": {"name": "sec-from"}}])],
        volumes=[TOKEN_VOLUME, {"name": "a", "configMap": {"name": "cm-vol"}},
                 {"name": "b", "secret": {"secretName": "sec-vol"}},
                 {"name": "p", "projected": {"sources": [{"secret": {"name": "sec-proj"}}]}}],
        imagePullSecrets=[{"name": "pull"}]),
     {"cm-env", "cm-from", "cm-vol"}, {"sec-env", "sec-from", "sec-vol", "sec-proj", "pull"}),
]


@pytest.mark.parametrize(("p", "config_maps", "secrets"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_dependency_refs(p: Obj, config_maps: set[str], secrets: set[str]) -> None:
    assert dependency_refs(p, "ConfigMap") == config_maps
    assert dependency_refs(p, "Secret") == secrets


def test_pod_without_spec() -> None:
    assert dependency_refs({"metadata": {"name": "p"}}, "Secret") == set()
