"""Kubeconfig Secrets (syncer/fleet/connect.py: kubeconfig_from_secret)."""

from __future__ import annotations

import base64
from typing import Any

import pytest
import yaml

from syncer.fleet.connect import ConnectError, kubeconfig_from_secret
from syncer.fleet.specs import secret_key_ref

Obj = dict[str, Any]
NS = "fusionvc-system"
KUBECONFIG = {
    "apiVersion": "v1", "kind": "Config", "current-context": "c",
    "clusters": [{"name": "c", "cluster": {"server": "https://10.0.0.1:6443"}}],
    "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
    "users": [{"name": "u", "user": {"token": "t"}}],
}


def b64(data: str | bytes) -> str:
    raw = data.encode() if isinstance(data, str) else data
    return base64.b64encode(raw).decode()


def secret(**data: str) -> Obj:
    return {"metadata": {"name": "tenant-a-kubeconfig", "namespace": NS}, "data": data}


GOOD = b64(yaml.safe_dump(KUBECONFIG))


@pytest.mark.parametrize(
    ("sec", "ref"),
    [
        (secret(kubeconfig=GOOD), {"name": "tenant-a-kubeconfig"}),
        (secret(kubeconfig=GOOD), {"name": "tenant-a-kubeconfig", "key": None}),
        (secret(kubeconfig=GOOD), {"name": "tenant-a-kubeconfig", "namespace": NS}),
        (secret(kubeconfig=GOOD), {"name": "tenant-a-kubeconfig", "namespace": ""}),
        (secret(config=GOOD), {"name": "tenant-a-kubeconfig", "key": "config"}),
    ],
)
def test_valid(sec: Obj, ref: Obj) -> None:
    parsed = secret_key_ref({"kubeconfigSecretRef": ref})
    assert kubeconfig_from_secret(sec, parsed, NS) == KUBECONFIG


def expect(sec: Obj | None, ref: Obj) -> ConnectError:
    with pytest.raises(ConnectError) as info:
        kubeconfig_from_secret(sec, secret_key_ref({"kubeconfigSecretRef": ref}), NS)
    err = info.value
    assert str(err) == err.message
    return err


def test_missing_secret() -> None:
    err = expect(None, {"name": "tenant-a-kubeconfig"})
    assert err.reason == "KubeconfigMissing"
    assert err.message == f"Secret {NS}/tenant-a-kubeconfig not found"


@pytest.mark.parametrize(
    ("sec", "key", "shown"),
    [
        (secret(other=GOOD), None, "'kubeconfig'"),
        (secret(kubeconfig=GOOD), "admin.conf", "'admin.conf'"),
        ({"metadata": {"name": "tenant-a-kubeconfig"}}, None, "'kubeconfig'"),
        ({"metadata": {"name": "tenant-a-kubeconfig"}, "data": None}, None, "'kubeconfig'"),
    ],
)
def test_missing_key(sec: Obj, key: str | None, shown: str) -> None:
    err = expect(sec, {"name": "tenant-a-kubeconfig", "key": key})
    assert err.reason == "KubeconfigInvalid"
    assert err.message == f"Secret {NS}/tenant-a-kubeconfig has no key {shown}"


@pytest.mark.parametrize(
    "raw",
    [
        "not base64 at all!",  # bad padding
        "@@@@",  # decodes to nothing
        b64(b"\xff\xfe\x00\x80garbage"),  # not text
        b64("key: [unclosed"),  # not YAML
        b64("just a string"),  # YAML, not a mapping
        b64("- a\n- b\n"),  # a list
        b64(yaml.safe_dump({"apiVersion": "v1", "kind": "Config"})),  # no clusters
        b64(yaml.safe_dump({**KUBECONFIG, "clusters": []})),
        b64("!!python/object:os.system {}"),  # unsafe tags are refused, not run
    ],
    ids=["bad-padding", "empty", "binary", "bad-yaml", "scalar", "list", "no-clusters",
         "empty-clusters", "python-tag"],
)
def test_garbage(raw: str) -> None:
    err = expect(secret(kubeconfig=raw), {"name": "tenant-a-kubeconfig"})
    assert err.reason == "KubeconfigInvalid"
    assert err.message == f"Secret {NS}/tenant-a-kubeconfig key 'kubeconfig' is not a kubeconfig"


@pytest.mark.parametrize("sec", [secret(kubeconfig=GOOD), None])
def test_wrong_namespace(sec: Obj | None) -> None:
    err = expect(sec, {"name": "tenant-a-kubeconfig", "namespace": "kube-system"})
    assert err.reason == "KubeconfigInvalid"
    assert err.message == (f"kubeconfigSecretRef.namespace must be {NS} "
                           "(fusionvc reads Secrets only there)")
