"""ConfigMap/Secret copies (syncer/kinds/dependents.py)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from syncer.core import markers
from syncer.kinds.dependents import content_differs, translate_dependent_down

Obj = dict[str, Any]


def secret(**extra: Any) -> Obj:
    return {"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "db", "namespace": "shop", "uid": "sec-uid",
                         "resourceVersion": "9", "labels": {"app": "shop"},
                         "annotations": {"note": "x", "kubectl.kubernetes.io/last-applied": "{}"},
                         "ownerReferences": [{"kind": "X", "uid": "o"}]},
            "type": "Opaque", "data": {"password": "cGFzcw=="}, **extra}


def config_map(**extra: Any) -> Obj:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "cfg", "namespace": "shop", "uid": "cm-uid"},
            "data": {"a": "1"}, **extra}


def down(obj: Obj) -> Obj:
    return translate_dependent_down(obj, tenant="acme", edge_namespace="acme-abc123-shop")


def test_secret_down() -> None:
    src = secret(immutable=True)
    before = copy.deepcopy(src)
    out = down(src)
    assert src == before
    assert out == {
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "db", "namespace": "acme-abc123-shop",
                     "labels": {"app": "shop", markers.MANAGED_BY: "fusionvc",
                                markers.TENANT: "acme"},
                     "annotations": {"note": "x", markers.TENANT_NAMESPACE: "shop",
                                     markers.TENANT_NAME: "db", markers.TENANT_UID: "sec-uid"}},
        "type": "Opaque", "data": {"password": "cGFzcw=="}, "immutable": True}


def test_config_map_down_without_labels() -> None:
    out = down(config_map(binaryData={"b": "AA=="}))
    assert out["kind"] == "ConfigMap"
    assert out["metadata"]["labels"] == markers.marker_labels("acme")
    assert out["data"] == {"a": "1"} and out["binaryData"] == {"b": "AA=="}
    assert "type" not in out and "immutable" not in out


def test_tenant_cannot_spoof_markers() -> None:
    src = config_map()
    src["metadata"]["labels"] = {markers.TENANT: "victim", markers.MANAGED_BY: "other"}
    src["metadata"]["annotations"] = {markers.TENANT_UID: "forged"}
    meta = down(src)["metadata"]
    assert meta["labels"] == markers.marker_labels("acme")
    assert meta["annotations"][markers.TENANT_UID] == "cm-uid"


def edge_copy(obj: Obj) -> Obj:
    """What the edge apiserver returns for a translated object."""
    out = copy.deepcopy(down(obj))
    out["metadata"].update(uid="edge-uid", resourceVersion="100",
                           creationTimestamp="2024-01-01T00:00:00Z")
    return out


@pytest.mark.parametrize(
    ("mutate", "differs"),
    [
        (lambda o: None, False),
        (lambda o: o["data"].update(password="bmV3"), True),
        (lambda o: o.update(data={}), True),
        (lambda o: o.update(type="kubernetes.io/tls"), True),
        (lambda o: o.update(immutable=True), True),
        (lambda o: o.update(binaryData={"b": "AA=="}), True),
        (lambda o: o["metadata"]["labels"].update(app="other"), True),
        (lambda o: o.update(stringData={"x": "y"}), False),  # write-only field: never compared
    ],
    ids=["same", "data", "data-emptied", "type", "immutable", "binaryData", "labels",
         "stringData"],
)
def test_content_differs(mutate: Any, differs: bool) -> None:
    have = edge_copy(secret())
    tenant = secret()
    mutate(tenant)
    assert content_differs(have, down(tenant)) is differs
