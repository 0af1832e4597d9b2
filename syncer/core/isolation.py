"""Isolation rules checked before anything is written to an edge cluster (pure).

Each check returns Violations naming the exact field and the rule it broke,
so the tenant sees "spec.containers[0].securityContext.privileged: privileged
containers are not allowed" rather than a bare refusal.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from syncer.core.dataset_mounts import mount_violations
from syncer.core.pod_security import Violation, standard_violations
from syncer.core.volume_policy import DEFAULT_VOLUME_TYPES, volume_violations
from syncer.kube import Obj

# Pod Security Standards: capabilities a container may add at each level.
BASELINE_CAPS = frozenset({"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL",
                           "MKNOD", "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID",
                           "SYS_CHROOT"})
RESTRICTED_CAPS = frozenset({"NET_BIND_SERVICE"})
LEVELS = ("baseline", "restricted")


@dataclass(frozen=True)
class IsolationPolicy:
    pod_security: str = "baseline"
    allow_node_port: bool = False
    allow_load_balancer: bool = False
    volume_types: frozenset[str] = DEFAULT_VOLUME_TYPES  # volume_policy.py
    csi_drivers: frozenset[str] = frozenset()


def _containers(spec: Obj) -> Iterator[tuple[str, Obj]]:
    for group in ("initContainers", "containers", "ephemeralContainers"):
        for i, container in enumerate(spec.get(group) or []):
            yield f"spec.{group}[{i}]", container


def _host_namespaces(spec: Obj) -> Iterator[Violation]:
    for name in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(name):
            yield Violation(f"spec.{name}", f"{name} is not allowed")
    for i, volume in enumerate(spec.get("volumes") or []):
        if "hostPath" in volume:
            yield Violation(f"spec.volumes[{i}].hostPath", "hostPath volumes are not allowed")


def _container_rules(path: str, container: Obj, level: str) -> Iterator[Violation]:
    sc = container.get("securityContext") or {}
    if sc.get("privileged"):
        yield Violation(f"{path}.securityContext.privileged",
                        "privileged containers are not allowed")
    for j, port in enumerate(container.get("ports") or []):
        if port.get("hostPort"):
            yield Violation(f"{path}.ports[{j}].hostPort", "hostPort is not allowed")
    allowed = RESTRICTED_CAPS if level == "restricted" else BASELINE_CAPS
    for cap in (sc.get("capabilities") or {}).get("add") or []:
        if cap not in allowed:
            yield Violation(f"{path}.securityContext.capabilities.add",
                            f"capability {cap} is not allowed at Pod Security level {level}")
    if level == "restricted":
        yield from _restricted_container(path, sc)


def _restricted_container(path: str, sc: Obj) -> Iterator[Violation]:
    if sc.get("allowPrivilegeEscalation") is not False:
        yield Violation(f"{path}.securityContext.allowPrivilegeEscalation",
                        "must be false at Pod Security level restricted")
    drops = (sc.get("capabilities") or {}).get("drop") or []
    if "ALL" not in drops:
        yield Violation(f"{path}.securityContext.capabilities.drop",
                        "must include ALL at Pod Security level restricted")


def _restricted_pod(spec: Obj) -> Iterator[Violation]:
    """runAsNonRoot and seccomp: a container's own setting wins over the pod's, as in PSS."""
    psc = spec.get("securityContext") or {}
    pod_non_root = psc.get("runAsNonRoot")
    pod_seccomp = (psc.get("seccompProfile") or {}).get("type")
    for path, container in _containers(spec):
        sc = container.get("securityContext") or {}
        non_root = sc.get("runAsNonRoot", pod_non_root)
        if non_root is not True:
            where = path if "runAsNonRoot" in sc else "spec"
            yield Violation(f"{where}.securityContext.runAsNonRoot",
                            "must be true at Pod Security level restricted")
        seccomp = (sc.get("seccompProfile") or {}).get("type", pod_seccomp)
        if seccomp not in ("RuntimeDefault", "Localhost"):
            where = path if "seccompProfile" in sc else "spec"
            yield Violation(f"{where}.securityContext.seccompProfile.type",
                            "must be RuntimeDefault or Localhost at Pod Security level restricted")


def check_pod(pod: Obj, policy: IsolationPolicy) -> list[Violation]:
    spec = pod.get("spec") or {}
    found = list(_host_namespaces(spec))
    for path, container in _containers(spec):
        found.extend(_container_rules(path, container, policy.pod_security))
    if policy.pod_security == "restricted":
        found.extend(_restricted_pod(spec))
    found.extend(standard_violations(pod, policy.pod_security))
    found.extend(volume_violations(spec, policy.volume_types, policy.csi_drivers))
    found.extend(mount_violations(pod))  # where its edge datasets go (core/dataset_mounts)
    first: dict[str, Violation] = {}  # a pod-level miss once, not per container; one per field
    for violation in found:
        first.setdefault(violation.field, violation)
    return list(first.values())


def check_service(service: Obj, policy: IsolationPolicy) -> list[Violation]:
    spec = service.get("spec") or {}
    kind = spec.get("type", "ClusterIP")
    found = []
    if kind == "NodePort" and not policy.allow_node_port:
        found.append(Violation("spec.type",
                               "NodePort services are not allowed by the tenant policy"))
    if kind == "LoadBalancer" and not policy.allow_load_balancer:
        found.append(Violation("spec.type",
                               "LoadBalancer services are not allowed by the tenant policy"))
    if spec.get("externalIPs"):
        found.append(Violation("spec.externalIPs", "externalIPs are not allowed"))
    return found


def describe(violations: list[Violation]) -> str:
    return "; ".join(str(v) for v in violations)
