"""The specs of ``Tenant`` and ``EdgeCluster`` objects, parsed once into frozen dataclasses.

Management parses each object when it changes; everything downstream reads
these typed values, never the raw spec. The CRD schemas (config/crd/) already
validate shapes; parsing here supplies defaults and normalises values (quota
quantities as strings, latencies as floats). The ``scheduling`` section is
kept raw: the scheduler's ``parse_policy`` owns its meaning and errors.

Adding a Tenant field: the CRD schema, one field here and its line in
``parse_tenant_spec``, then read ``tenant.spec.<field>`` where it is used.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from syncer.core.isolation import IsolationPolicy
from syncer.kube import Obj


def _empty() -> Mapping[str, str]:
    return MappingProxyType({})


@dataclass(frozen=True)
class SecretKeyRef:
    """Where a kubeconfig lives: a key of a Secret in the management cluster."""

    name: str = ""
    namespace: str = ""
    key: str = "kubeconfig"


@dataclass(frozen=True)
class TenantSpec:
    kubeconfig: SecretKeyRef = field(default_factory=SecretKeyRef)
    isolation: IsolationPolicy = field(default_factory=IsolationPolicy)
    # Hard limits (ResourceQuota) and container defaults (LimitRange) of each edge namespace.
    resource_quota: Mapping[str, str] = field(default_factory=_empty)
    default_limits: Mapping[str, str] = field(default_factory=_empty)
    scheduling: Obj | None = None  # raw; see scheduler.parse_policy


@dataclass(frozen=True)
class FailoverSpec:
    """When pods leave an unreachable edge cluster, and when it is trusted again."""

    grace_period_seconds: float = 60.0
    recovery_stable_seconds: float = 30.0


@dataclass(frozen=True)
class EdgeSpec:
    kubeconfig: SecretKeyRef = field(default_factory=SecretKeyRef)
    region: str = ""
    latency_ms: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    unschedulable: bool = False
    failover: FailoverSpec = field(default_factory=FailoverSpec)
    out_of_service: bool = False  # the operator declares it gone: even StatefulSet pods move


def secret_key_ref(spec: Obj) -> SecretKeyRef:
    """The ``kubeconfigSecretRef`` of a Tenant or EdgeCluster spec."""
    ref = spec.get("kubeconfigSecretRef") or {}
    return SecretKeyRef(name=str(ref.get("name", "")), namespace=str(ref.get("namespace", "")),
                        key=str(ref.get("key") or "kubeconfig"))


def _strings(values: Obj | None) -> Mapping[str, str]:
    return MappingProxyType({str(k): str(v) for k, v in (values or {}).items()})


def parse_tenant_spec(spec: Obj) -> TenantSpec:
    iso = spec.get("isolation") or {}
    return TenantSpec(
        kubeconfig=secret_key_ref(spec),
        isolation=IsolationPolicy(pod_security=iso.get("podSecurity", "baseline"),
                                  allow_node_port=bool(iso.get("allowNodePort")),
                                  allow_load_balancer=bool(iso.get("allowLoadBalancer"))),
        resource_quota=_strings(iso.get("resourceQuota")),
        default_limits=_strings(iso.get("defaultLimits")),
        scheduling=spec.get("scheduling"))


def parse_edge_spec(spec: Obj) -> EdgeSpec:
    return EdgeSpec(
        kubeconfig=secret_key_ref(spec),
        region=str(spec.get("region", "")),
        latency_ms=MappingProxyType({str(k): float(v)
                                     for k, v in (spec.get("latencyMs") or {}).items()}),
        unschedulable=bool(spec.get("unschedulable")),
        failover=parse_failover(spec.get("failover")),
        out_of_service=bool(spec.get("outOfService")))


def parse_failover(failover: Obj | None) -> FailoverSpec:
    values = failover or {}
    default = FailoverSpec()
    return FailoverSpec(
        grace_period_seconds=float(values.get("gracePeriodSeconds",
                                              default.grace_period_seconds)),
        recovery_stable_seconds=float(values.get("recoveryStableSeconds",
                                                 default.recovery_stable_seconds)))
