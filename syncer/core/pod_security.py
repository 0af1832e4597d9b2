"""The Pod Security Standards fields beyond the basics of isolation.py (pure).

isolation.check_pod covers host namespaces, hostPath, privileged, hostPort,
capabilities, allowPrivilegeEscalation, runAsNonRoot and the restricted
seccomp requirement. This module adds every other control of the standards as
the upstream pod-security-admission defines them (policy version "latest"),
so that a pod the edge namespace's PSA label would refuse is refused here
first, with the field named, instead of failing on the edge:

baseline (and so restricted):
  - HostProcess: ``windowsOptions.hostProcess`` not true (pod and containers);
  - AppArmor: the ``container.apparmor.security.beta.kubernetes.io/*``
    annotations and ``appArmorProfile.type`` only RuntimeDefault/Localhost;
  - SELinux: ``seLinuxOptions.type`` one of the container types, ``user`` and
    ``role`` unset;
  - /proc mount: ``procMount`` Default;
  - Seccomp: ``seccompProfile.type`` not Unconfined (pod and containers);
  - Sysctls: only the safe set.
restricted only:
  - Volume types: configMap, csi, downwardAPI, emptyDir, ephemeral,
    persistentVolumeClaim, projected, secret;
  - Running as non-root user: ``runAsUser`` not 0 (pod and containers).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from syncer.kube import Obj

CONTAINER_GROUPS = ("initContainers", "containers", "ephemeralContainers")
APPARMOR_ANNOTATION = "container.apparmor.security.beta.kubernetes.io/"
APPARMOR_TYPES = frozenset({"RuntimeDefault", "Localhost"})
SELINUX_TYPES = frozenset({"", "container_t", "container_init_t", "container_kvm_t",
                           "container_engine_t"})
SAFE_SYSCTLS = frozenset({
    "kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes", "net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem"})
RESTRICTED_VOLUMES = frozenset({"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral",
                                "persistentVolumeClaim", "projected", "secret"})


@dataclass(frozen=True)
class Violation:
    field: str
    rule: str

    def __str__(self) -> str:
        return f"{self.field}: {self.rule}"


def security_contexts(spec: Obj) -> Iterator[tuple[str, Obj]]:
    """(path, securityContext) of the pod and of every container, pod first."""
    yield "spec.securityContext", spec.get("securityContext") or {}
    for group in CONTAINER_GROUPS:
        for i, container in enumerate(spec.get(group) or []):
            yield f"spec.{group}[{i}].securityContext", container.get("securityContext") or {}


def _host_process(path: str, sc: Obj) -> Iterator[Violation]:
    if (sc.get("windowsOptions") or {}).get("hostProcess") is True:
        yield Violation(f"{path}.windowsOptions.hostProcess",
                        "HostProcess containers are not allowed")


def _apparmor(path: str, sc: Obj) -> Iterator[Violation]:
    kind = (sc.get("appArmorProfile") or {}).get("type")
    if kind is not None and kind not in APPARMOR_TYPES:
        yield Violation(f"{path}.appArmorProfile.type",
                        f"AppArmor profile {kind} is not allowed (RuntimeDefault or Localhost)")


def _selinux(path: str, sc: Obj) -> Iterator[Violation]:
    options = sc.get("seLinuxOptions") or {}
    if options.get("type", "") not in SELINUX_TYPES:
        yield Violation(f"{path}.seLinuxOptions.type",
                        f"SELinux type {options['type']} is not allowed")
    for name in ("user", "role"):
        if options.get(name):
            yield Violation(f"{path}.seLinuxOptions.{name}",
                            f"a custom SELinux {name} is not allowed")


def _proc_mount(path: str, sc: Obj) -> Iterator[Violation]:
    mount = sc.get("procMount")
    if mount is not None and mount != "Default":
        yield Violation(f"{path}.procMount", f"procMount {mount} is not allowed (Default only)")


def _seccomp_not_unconfined(path: str, sc: Obj) -> Iterator[Violation]:
    if (sc.get("seccompProfile") or {}).get("type") == "Unconfined":
        yield Violation(f"{path}.seccompProfile.type", "seccomp profile Unconfined is not allowed")


def _run_as_root_user(path: str, sc: Obj) -> Iterator[Violation]:
    if sc.get("runAsUser") == 0:
        yield Violation(f"{path}.runAsUser",
                        "must not be 0 (root) at Pod Security level restricted")


BASELINE_CONTEXT_RULES = (_host_process, _apparmor, _selinux, _seccomp_not_unconfined)
RESTRICTED_CONTEXT_RULES = (_run_as_root_user,)


def _apparmor_annotations(meta: Obj) -> Iterator[Violation]:
    for key, value in sorted((meta.get("annotations") or {}).items()):
        if key.startswith(APPARMOR_ANNOTATION) and value and value != "runtime/default" \
                and not value.startswith("localhost/"):
            yield Violation(f"metadata.annotations[{key}]",
                            f"AppArmor profile {value} is not allowed")


def _sysctls(spec: Obj) -> Iterator[Violation]:
    for i, sysctl in enumerate((spec.get("securityContext") or {}).get("sysctls") or []):
        if sysctl.get("name") not in SAFE_SYSCTLS:
            yield Violation(f"spec.securityContext.sysctls[{i}].name",
                            f"sysctl {sysctl.get('name')} is not a safe sysctl")


def _volume_types(spec: Obj) -> Iterator[Violation]:
    for i, volume in enumerate(spec.get("volumes") or []):
        for source in sorted(set(volume) - {"name"} - RESTRICTED_VOLUMES):
            if source != "hostPath":  # reported by the baseline check already
                yield Violation(f"spec.volumes[{i}].{source}",
                                f"{source} volumes are not allowed at Pod Security level "
                                "restricted")


def standard_violations(pod: Obj, level: str) -> list[Violation]:
    """The violations of the controls listed in this module's docstring, at ``level``."""
    spec, meta = pod.get("spec") or {}, pod.get("metadata") or {}
    found = [*_apparmor_annotations(meta), *_sysctls(spec)]
    for path, sc in security_contexts(spec):
        for rule in BASELINE_CONTEXT_RULES:
            found.extend(rule(path, sc))
        if path != "spec.securityContext":
            found.extend(_proc_mount(path, sc))
        if level == "restricted":
            for rule in RESTRICTED_CONTEXT_RULES:
                found.extend(rule(path, sc))
    if level == "restricted":
        found.extend(_volume_types(spec))
    return found
