"""Tenant and EdgeCluster specs parsed once (syncer/fleet/specs.py)."""

from __future__ import annotations

import dataclasses

import pytest

from syncer.fleet.specs import parse_edge_spec, parse_tenant_spec, secret_key_ref


def test_an_empty_tenant_spec_has_the_documented_defaults() -> None:
    spec = parse_tenant_spec({})
    assert spec.isolation.pod_security == "baseline"
    assert not spec.isolation.allow_node_port and not spec.isolation.allow_load_balancer
    assert dict(spec.resource_quota) == {} and dict(spec.default_limits) == {}
    assert spec.scheduling is None and spec.dns_zones == ()
    assert spec.kubeconfig.key == "kubeconfig"


def test_a_full_tenant_spec() -> None:
    spec = parse_tenant_spec({
        "kubeconfigSecretRef": {"name": "t-kc", "namespace": "fusionvc-system", "key": "cfg"},
        "isolation": {"podSecurity": "restricted", "allowNodePort": True,
                      "resourceQuota": {"pods": 200, "requests.cpu": "64"},
                      "defaultLimits": {"cpu": "500m"}},
        "scheduling": {"mode": "cost-first"},
        "dns": {"zones": ["Example.COM.", "a.example.net"]}})
    assert (spec.kubeconfig.name, spec.kubeconfig.namespace, spec.kubeconfig.key) == (
        "t-kc", "fusionvc-system", "cfg")
    assert spec.isolation.pod_security == "restricted" and spec.isolation.allow_node_port
    assert dict(spec.resource_quota) == {"pods": "200", "requests.cpu": "64"}
    assert dict(spec.default_limits) == {"cpu": "500m"}
    assert spec.scheduling == {"mode": "cost-first"}
    assert spec.dns_zones == ("example.com", "a.example.net")


def test_specs_are_frozen() -> None:
    spec = parse_tenant_spec({})
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.scheduling = {}  # type: ignore[misc]
    with pytest.raises(TypeError):
        spec.resource_quota["pods"] = "1"  # type: ignore[index]


def test_an_edge_spec() -> None:
    spec = parse_edge_spec({
        "region": "cn-beijing", "latencyMs": {"cn-beijing": 5}, "unschedulable": True,
        "runtimeHandlers": ["runc", "nvidia"],
        "entrance": [{"address": "203.0.113.10", "carrier": "telecom"}]})
    assert spec.region == "cn-beijing" and dict(spec.latency_ms) == {"cn-beijing": 5.0}
    assert spec.unschedulable and spec.runtime_handlers == {"runc", "nvidia"}
    assert spec.entrance == (("203.0.113.10", "telecom"),)
    assert parse_edge_spec({}).runtime_handlers == frozenset()


def test_the_kubeconfig_reference_alone() -> None:
    assert secret_key_ref({"kubeconfigSecretRef": {"name": "x"}}).name == "x"
    assert secret_key_ref({}).name == ""


@pytest.mark.parametrize(("raw", "want"), [
    (None, None), ({"host": "api.t.example"}, ("api.t.example", 443)),
    ({"host": "10.0.0.1", "port": 6443}, ("10.0.0.1", 6443)), ({"port": 6443}, None)])
def test_the_pod_api_server(raw: dict[str, object] | None,
                            want: tuple[str, int] | None) -> None:
    spec = {"kubeconfigSecretRef": {"name": "k"}, **({"podAPIServer": raw} if raw else {})}
    assert parse_tenant_spec(spec).pod_api_server == want


def test_an_edge_spec_maps_storage_classes() -> None:
    spec = parse_edge_spec({"storageClasses": {"fast": "local-ssd"}})
    assert dict(spec.storage_classes) == {"fast": "local-ssd"}
    assert dict(parse_edge_spec({}).storage_classes) == {}
