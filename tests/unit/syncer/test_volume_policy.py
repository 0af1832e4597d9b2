"""Volume types and inline CSI drivers by Tenant policy, with a safe default
(syncer/core/volume_policy.py through check_pod; the Tenant fields in fleet/specs.py)."""

from __future__ import annotations

from typing import Any

import pytest

from syncer.core.isolation import IsolationPolicy, check_pod
from syncer.core.volume_policy import DEFAULT_VOLUME_TYPES
from syncer.fleet.specs import parse_tenant_spec
from tests.builders import pod, pod_spec

Obj = dict[str, Any]


def with_volumes(*volumes: Obj) -> Obj:
    return pod("shop", "web", spec=pod_spec(volumes=list(volumes)))


def fields(p: Obj, policy: IsolationPolicy) -> list[str]:
    return [v.field for v in check_pod(p, policy)]


NFS = {"name": "n", "nfs": {"server": "10.0.0.1", "path": "/"}}
CSI = {"name": "c", "csi": {"driver": "secrets-store.csi.k8s.io"}}
DEFAULT_OK = [{"name": "a", "configMap": {"name": "c"}},
              {"name": "b", "secret": {"secretName": "s"}}, {"name": "c", "emptyDir": {}},
              {"name": "d", "projected": {"sources": []}},
              {"name": "e", "downwardAPI": {"items": []}},
              {"name": "f", "persistentVolumeClaim": {"claimName": "data"}},
              {"name": "g", "ephemeral": {"volumeClaimTemplate": {}}},
              {"name": "h", "image": {"reference": "registry.local/models:1"}}]


@pytest.mark.parametrize("volume", DEFAULT_OK, ids=[next(iter(set(v) - {"name"}))
                                                    for v in DEFAULT_OK])
def test_the_default_allows_the_safe_types(volume: Obj) -> None:
    assert fields(with_volumes(volume), IsolationPolicy()) == []


DEFAULT_REFUSED = [
    ("nfs", NFS, "spec.volumes[0].nfs"),
    ("inline-csi", CSI, "spec.volumes[0].csi"),
    ("iscsi", {"name": "i", "iscsi": {"targetPortal": "t", "iqn": "q", "lun": 0}},
     "spec.volumes[0].iscsi"),
    ("gitRepo", {"name": "g", "gitRepo": {"repository": "r"}}, "spec.volumes[0].gitRepo"),
]


@pytest.mark.parametrize(("volume", "field"), [(v, f) for _, v, f in DEFAULT_REFUSED],
                         ids=[c for c, _, _ in DEFAULT_REFUSED])
def test_the_default_refuses_the_others_even_at_baseline(volume: Obj, field: str) -> None:
    assert fields(with_volumes(volume), IsolationPolicy()) == [field]


def test_allowed_types_and_csi_drivers_come_from_the_tenant() -> None:
    spec = parse_tenant_spec({"isolation": {
        "volumeTypes": [*DEFAULT_VOLUME_TYPES, "nfs", "csi"],
        "csiDrivers": ["secrets-store.csi.k8s.io"]}})
    policy = spec.isolation
    assert fields(with_volumes(NFS, CSI), policy) == []
    other = {"name": "x", "csi": {"driver": "other.csi"}}
    assert fields(with_volumes(other), policy) == ["spec.volumes[0].csi.driver"]
    assert parse_tenant_spec({}).isolation.volume_types == DEFAULT_VOLUME_TYPES


def test_hostpath_stays_refused_whatever_the_setting() -> None:
    policy = parse_tenant_spec({"isolation": {"volumeTypes": ["hostPath"]}}).isolation
    assert fields(with_volumes({"name": "h", "hostPath": {"path": "/"}}), policy) == [
        "spec.volumes[0].hostPath"]
