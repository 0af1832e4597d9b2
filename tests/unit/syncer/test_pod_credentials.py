"""No edge credential reaches a pod, no tenant token reaches an edge; mixed projected volumes
keep their other sources (syncer/kinds/pod_credentials.py)."""

from __future__ import annotations

import copy

from syncer.kinds.dependents import dependency_refs
from syncer.kinds.pod_credentials import strip_edge_credentials
from syncer.kube import Obj
from tests.builders import container, pod, pod_spec

TOKEN = {"serviceAccountToken": {"path": "token", "expirationSeconds": 3607}}
ROOT_CA = {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt",
                                                               "path": "ca.crt"}]}}
NAMESPACE = {"downwardAPI": {"items": [{"path": "namespace",
                                        "fieldRef": {"fieldPath": "metadata.namespace"}}]}}
SETTINGS = {"configMap": {"name": "settings"}}
CREDS = {"secret": {"name": "creds"}}


def spec_with(*volumes: Obj) -> Obj:
    mounts = [{"name": v["name"], "mountPath": f"/m/{v['name']}"} for v in volumes]
    return pod_spec(containers=[container(volumeMounts=mounts)], volumes=list(volumes),
                    automountServiceAccountToken=True)


def stripped(spec: Obj) -> Obj:
    out = copy.deepcopy(spec)
    strip_edge_credentials(out)
    return out


def test_automount_is_always_off() -> None:
    assert stripped(spec_with())["automountServiceAccountToken"] is False


def test_the_injected_token_volume_goes_with_its_mounts() -> None:
    injected = {"name": "kube-api-access-x7k2p",
                "projected": {"sources": [TOKEN, ROOT_CA, NAMESPACE]}}
    out = stripped(spec_with(injected, {"name": "data", "emptyDir": {}}))
    assert [v["name"] for v in out["volumes"]] == ["data"]
    assert [m["name"] for m in out["containers"][0]["volumeMounts"]] == ["data"]


def test_a_mixed_projected_volume_keeps_its_other_sources() -> None:
    mixed = {"name": "bundle", "projected": {"sources": [SETTINGS, TOKEN, CREDS, NAMESPACE,
                                                         ROOT_CA]}}
    out = stripped(spec_with(mixed))
    assert out["volumes"] == [{"name": "bundle", "projected": {"sources": [
        SETTINGS, CREDS, NAMESPACE]}}]
    assert [m["name"] for m in out["containers"][0]["volumeMounts"]] == ["bundle"]


def test_a_volume_of_only_a_token_goes() -> None:
    only = {"name": "vault-token", "projected": {"sources": [TOKEN]}}
    out = stripped(spec_with(only))
    assert out["volumes"] == [] and out["containers"][0]["volumeMounts"] == []


def test_the_other_sources_of_a_mixed_volume_are_copied_to_the_edge() -> None:
    mixed = {"name": "bundle", "projected": {"sources": [SETTINGS, TOKEN, CREDS]}}
    p = pod("shop", "web", spec=spec_with(mixed))
    assert dependency_refs(p, "ConfigMap") == {"settings"}
    assert dependency_refs(p, "Secret") == {"creds"}
