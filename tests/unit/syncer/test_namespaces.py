"""Edge namespaces and their isolation objects (syncer/kinds/namespaces.py)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from syncer.core import markers
from syncer.core.isolation import IsolationPolicy
from syncer.fleet.conn import TenantConn
from syncer.fleet.specs import parse_tenant_spec
from syncer.kinds.namespaces import (
    LIMITS_NAME,
    POLICY_NAME,
    QUOTA_NAME,
    isolation_objects,
    translate_namespace_down,
)
from syncer.kube.apis import LIMITRANGES, NETWORKPOLICIES, RESOURCEQUOTAS

Obj = dict[str, Any]
EDGE_NS = "tenant-a-abc123-shop"


def tenant(level: str = "baseline", spec: Obj | None = None) -> TenantConn:
    parsed = parse_tenant_spec(spec or {})
    return TenantConn("tenant-a", "tenant", client=None, uid="u1",  # type: ignore[arg-type]
                      spec=dataclasses.replace(parsed, isolation=IsolationPolicy(
                          pod_security=level)))


TENANT_NS = {"apiVersion": "v1", "kind": "Namespace",
             "metadata": {"name": "shop", "uid": "ns-uid",
                          "labels": {"team": "x", markers.TENANT: "tenant-b",
                                     "pod-security.kubernetes.io/enforce": "privileged"}}}


@pytest.mark.parametrize("level", ["baseline", "restricted"])
def test_namespace_down(level: str) -> None:
    out = translate_namespace_down(tenant(level), TENANT_NS, EDGE_NS)
    assert out == {
        "apiVersion": "v1", "kind": "Namespace",
        "metadata": {
            "name": EDGE_NS,
            "labels": {markers.MANAGED_BY: "fusionvc", markers.TENANT: "tenant-a",
                       "pod-security.kubernetes.io/enforce": level,
                       "pod-security.kubernetes.io/warn": level,
                       "pod-security.kubernetes.io/audit": level},
            "annotations": {markers.TENANT_NAMESPACE: "", markers.TENANT_NAME: "shop",
                            markers.TENANT_UID: "ns-uid"}}}


def by_kind(objs: list[tuple[Any, Obj]]) -> dict[str, tuple[Any, Obj]]:
    return {o["kind"]: (r, o) for r, o in objs}


def test_network_policy_always_and_only_it_by_default() -> None:
    objs = by_kind(isolation_objects(tenant(), EDGE_NS))
    assert set(objs) == {"NetworkPolicy"}
    resource, policy = objs["NetworkPolicy"]
    assert resource is NETWORKPOLICIES
    assert policy["metadata"] == {"name": POLICY_NAME, "namespace": EDGE_NS,
                                  "labels": markers.marker_labels("tenant-a")}
    assert policy["spec"] == {
        "podSelector": {}, "policyTypes": ["Ingress"],
        "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {
            markers.TENANT: "tenant-a"}}}]}]}


def test_network_policy_admits_the_tenants_own_namespaces() -> None:
    """The policy's selector matches the labels fusionvc puts on the tenant's edge namespaces."""
    [(_, policy)] = isolation_objects(tenant(), EDGE_NS)
    ns_labels = translate_namespace_down(tenant(), TENANT_NS, EDGE_NS)["metadata"]["labels"]
    selector = policy["spec"]["ingress"][0]["from"][0]["namespaceSelector"]["matchLabels"]
    assert all(ns_labels.get(k) == v for k, v in selector.items())
    other = translate_namespace_down(
        TenantConn("tenant-b", "tenant", client=None, uid="u2"),  # type: ignore[arg-type]
        TENANT_NS, "tenant-b-def456-shop")["metadata"]["labels"]
    assert not all(other.get(k) == v for k, v in selector.items())


@pytest.mark.parametrize(
    ("isolation", "kinds"),
    [
        ({}, {"NetworkPolicy"}),
        ({"resourceQuota": {}}, {"NetworkPolicy"}),
        ({"defaultLimits": {}}, {"NetworkPolicy"}),
        ({"resourceQuota": {"pods": 10}}, {"NetworkPolicy", "ResourceQuota"}),
        ({"defaultLimits": {"cpu": "500m"}}, {"NetworkPolicy", "LimitRange"}),
        ({"resourceQuota": {"pods": 10}, "defaultLimits": {"cpu": "500m"}},
         {"NetworkPolicy", "ResourceQuota", "LimitRange"}),
    ],
)
def test_which_objects(isolation: Obj, kinds: set[str]) -> None:
    objs = isolation_objects(tenant(spec={"isolation": isolation}), EDGE_NS)
    assert {o["kind"] for _, o in objs} == kinds


def test_quota_and_limits_content() -> None:
    spec = {"isolation": {"resourceQuota": {"pods": 10, "requests.cpu": "8"},
                          "defaultLimits": {"cpu": "500m", "memory": "256Mi"}}}
    objs = by_kind(isolation_objects(tenant(spec=spec), EDGE_NS))
    resource, quota = objs["ResourceQuota"]
    assert resource is RESOURCEQUOTAS
    assert quota["metadata"] == {"name": QUOTA_NAME, "namespace": EDGE_NS,
                                 "labels": markers.marker_labels("tenant-a")}
    assert quota["spec"] == {"hard": {"pods": "10", "requests.cpu": "8"}}
    resource, limits = objs["LimitRange"]
    assert resource is LIMITRANGES
    assert limits["metadata"]["name"] == LIMITS_NAME
    assert limits["metadata"]["namespace"] == EDGE_NS
    default = {"cpu": "500m", "memory": "256Mi"}
    assert limits["spec"] == {"limits": [{"type": "Container", "default": default,
                                          "defaultRequest": default}]}

