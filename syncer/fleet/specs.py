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
from syncer.edgedns.pod_dns import tenant_nameservers
from syncer.gslb.model import tenant_zones
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
class RegistrySpec:
    """A platform registry whose credentials fusionvc gives the tenant's edge pods.

    ``credentials_secret`` names a Secret in the management cluster's fusionvc
    namespace (type kubernetes.io/dockerconfigjson or kubernetes.io/basic-auth)."""

    server: str
    credentials_secret: str


@dataclass(frozen=True)
class TenantSpec:
    kubeconfig: SecretKeyRef = field(default_factory=SecretKeyRef)
    isolation: IsolationPolicy = field(default_factory=IsolationPolicy)
    # Hard limits (ResourceQuota) and container defaults (LimitRange) of each edge namespace.
    resource_quota: Mapping[str, str] = field(default_factory=_empty)
    default_limits: Mapping[str, str] = field(default_factory=_empty)
    scheduling: Obj | None = None  # raw; see scheduler.parse_policy
    dns_zones: tuple[str, ...] = ()  # zones its ServiceDomains may claim (normalised)
    registries: tuple[RegistrySpec, ...] = ()
    # (host, port) of the tenant apiserver for in-pod clients (None: the kubeconfig's).
    pod_api_server: tuple[str, int] | None = None
    datasets: Obj | None = None  # raw; see syncer/kinds/dataset_quota.py


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
    # RuntimeClass handlers tenants may use on this cluster (none: no RuntimeClass at all).
    runtime_handlers: frozenset[str] = frozenset()
    # Keys of this cluster's node taints every tenant's tolerations may tolerate (with the
    # Tenant's own scheduling.tolerableTaints); the other taints are the platform's.
    tolerable_taints: frozenset[str] = frozenset()
    # (address, carrier) where users reach services on this cluster (GSLB answers).
    entrance: tuple[tuple[str, str], ...] = ()
    # The edge DNS (syncer.edgedns) per tenant, and the tenants' cluster domain; problems
    # are addresses refused while parsing, for the log.
    dns_nameservers: Mapping[str, str] = field(default_factory=_empty)
    cluster_domain: str = "cluster.local"
    dns_problems: tuple[str, ...] = ()
    failover: FailoverSpec = field(default_factory=FailoverSpec)
    out_of_service: bool = False  # the operator declares it gone: even StatefulSet pods move
    # Tenant storage class -> this cluster's class: the classes it offers tenants' claims.
    storage_classes: Mapping[str, str] = field(default_factory=_empty)


def secret_key_ref(spec: Obj) -> SecretKeyRef:
    """The ``kubeconfigSecretRef`` of a Tenant or EdgeCluster spec."""
    ref = spec.get("kubeconfigSecretRef") or {}
    return SecretKeyRef(name=str(ref.get("name", "")), namespace=str(ref.get("namespace", "")),
                        key=str(ref.get("key") or "kubeconfig"))


def _strings(values: Obj | None) -> Mapping[str, str]:
    return MappingProxyType({str(k): str(v) for k, v in (values or {}).items()})


def _volume_policy(iso: Obj) -> dict[str, frozenset[str]]:
    """volumeTypes and csiDrivers of the isolation section (absent: the safe default)."""
    out = {}
    if iso.get("volumeTypes") is not None:
        out["volume_types"] = frozenset(str(v) for v in iso["volumeTypes"])
    out["csi_drivers"] = frozenset(str(d) for d in iso.get("csiDrivers") or [])
    return out


def parse_tenant_spec(spec: Obj) -> TenantSpec:
    iso = spec.get("isolation") or {}
    return TenantSpec(
        kubeconfig=secret_key_ref(spec),
        isolation=IsolationPolicy(pod_security=iso.get("podSecurity", "baseline"),
                                  allow_node_port=bool(iso.get("allowNodePort")),
                                  allow_load_balancer=bool(iso.get("allowLoadBalancer")),
                                  **_volume_policy(iso)),
        resource_quota=_strings(iso.get("resourceQuota")),
        default_limits=_strings(iso.get("defaultLimits")),
        scheduling=spec.get("scheduling"),
        dns_zones=tenant_zones({"spec": spec}),
        registries=tuple(RegistrySpec(server=str(r.get("server", "")).lower().rstrip("/"),
                                      credentials_secret=str(
                                          (r.get("credentialsSecretRef") or {}).get("name", "")))
                         for r in spec.get("registries") or []),
        pod_api_server=_pod_api_server(spec.get("podAPIServer")),
        datasets=spec.get("datasets"))


def _pod_api_server(value: Obj | None) -> tuple[str, int] | None:
    if not value or not value.get("host"):
        return None
    return str(value["host"]), int(value.get("port") or 443)


def parse_edge_spec(spec: Obj) -> EdgeSpec:
    nameservers, domain, problems = tenant_nameservers(spec)
    return EdgeSpec(
        kubeconfig=secret_key_ref(spec),
        region=str(spec.get("region", "")),
        latency_ms=MappingProxyType({str(k): float(v)
                                     for k, v in (spec.get("latencyMs") or {}).items()}),
        unschedulable=bool(spec.get("unschedulable")),
        runtime_handlers=frozenset(str(h) for h in spec.get("runtimeHandlers") or []),
        tolerable_taints=frozenset(str(k) for k in spec.get("tolerableTaints") or []),
        entrance=tuple((str(e.get("address", "")), str(e.get("carrier") or ""))
                       for e in spec.get("entrance") or []),
        dns_nameservers=MappingProxyType(nameservers), cluster_domain=domain,
        dns_problems=tuple(problems),
        failover=parse_failover(spec.get("failover")),
        out_of_service=bool(spec.get("outOfService")),
        storage_classes=_strings(spec.get("storageClasses")))


def parse_failover(failover: Obj | None) -> FailoverSpec:
    values = failover or {}
    default = FailoverSpec()
    return FailoverSpec(
        grace_period_seconds=float(values.get("gracePeriodSeconds",
                                              default.grace_period_seconds)),
        recovery_stable_seconds=float(values.get("recoveryStableSeconds",
                                                 default.recovery_stable_seconds)))
