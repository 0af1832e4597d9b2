"""Pod Security Standards, field by field (syncer/core/pod_security.py through check_pod).

One table per control of baseline and restricted as the upstream
pod-security-admission defines them: what passes, what fails and which field
the violation names. The pods of the restricted tables are otherwise hardened,
so the only violation is the one under test.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from syncer.core.isolation import IsolationPolicy, check_pod

Obj = dict[str, Any]
# Every volume type allowed by the tenant policy (volume_policy.py), so only the standards
# themselves decide here.
ANY_VOLUME = frozenset({"configMap", "secret", "emptyDir", "projected", "downwardAPI", "csi",
                        "persistentVolumeClaim", "ephemeral", "nfs", "iscsi", "gitRepo",
                        "hostPath"})
BASELINE = IsolationPolicy(volume_types=ANY_VOLUME, csi_drivers=frozenset({"d"}))
RESTRICTED = IsolationPolicy(pod_security="restricted", volume_types=ANY_VOLUME,
                             csi_drivers=frozenset({"d"}))
HARDENED_SC = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}
HARDENED_POD_SC = {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}


def hardened(pod_sc: Obj | None = None, container_sc: Obj | None = None,
             annotations: Obj | None = None, **spec: Any) -> Obj:
    """A pod that passes restricted, with the given fields merged in."""
    csc = {**copy.deepcopy(HARDENED_SC), **(container_sc or {})}
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "namespace": "default", "annotations": annotations or {}},
            "spec": {"securityContext": {**HARDENED_POD_SC, **(pod_sc or {})},
                     "containers": [{"name": "app", "image": "x", "securityContext": csc}],
                     **spec}}


def fields(pod: Obj, policy: IsolationPolicy) -> list[str]:
    return sorted(v.field for v in check_pod(pod, policy))


POD = "spec.securityContext"
C0 = "spec.containers[0].securityContext"

# (case, pod, violating field) of the baseline controls: refused at both levels.
BASELINE_FAILS: list[tuple[str, Obj, str]] = [
    ("hostProcess-pod", hardened({"windowsOptions": {"hostProcess": True}}),
     f"{POD}.windowsOptions.hostProcess"),
    ("hostProcess-container", hardened(container_sc={"windowsOptions": {"hostProcess": True}}),
     f"{C0}.windowsOptions.hostProcess"),
    ("apparmor-annotation-unconfined", hardened(annotations={
        "container.apparmor.security.beta.kubernetes.io/app": "unconfined"}),
     "metadata.annotations[container.apparmor.security.beta.kubernetes.io/app]"),
    ("apparmor-pod-unconfined", hardened({"appArmorProfile": {"type": "Unconfined"}}),
     f"{POD}.appArmorProfile.type"),
    ("apparmor-container-unconfined", hardened(
        container_sc={"appArmorProfile": {"type": "Unconfined"}}), f"{C0}.appArmorProfile.type"),
    ("selinux-spc_t", hardened(container_sc={"seLinuxOptions": {"type": "spc_t"}}),
     f"{C0}.seLinuxOptions.type"),
    ("selinux-pod-type", hardened({"seLinuxOptions": {"type": "unconfined_t"}}),
     f"{POD}.seLinuxOptions.type"),
    ("selinux-user", hardened({"seLinuxOptions": {"user": "system_u"}}),
     f"{POD}.seLinuxOptions.user"),
    ("selinux-role", hardened(container_sc={"seLinuxOptions": {"role": "sysadm_r"}}),
     f"{C0}.seLinuxOptions.role"),
    ("procMount-unmasked", hardened(container_sc={"procMount": "Unmasked"}), f"{C0}.procMount"),
    ("seccomp-container-unconfined", hardened(
        container_sc={"seccompProfile": {"type": "Unconfined"}}), f"{C0}.seccompProfile.type"),
    ("sysctl-unsafe", hardened({"sysctls": [{"name": "kernel.msgmax", "value": "1"}]}),
     f"{POD}.sysctls[0].name"),
    ("sysctl-net-core", hardened({"sysctls": [
        {"name": "net.ipv4.tcp_syncookies", "value": "1"},
        {"name": "net.core.somaxconn", "value": "1024"}]}), f"{POD}.sysctls[1].name"),
]

BASELINE_PASSES: list[tuple[str, Obj]] = [
    ("apparmor-annotation-runtime-default", hardened(annotations={
        "container.apparmor.security.beta.kubernetes.io/app": "runtime/default"})),
    ("apparmor-annotation-localhost", hardened(annotations={
        "container.apparmor.security.beta.kubernetes.io/app": "localhost/my-profile"})),
    ("apparmor-field-localhost", hardened(container_sc={"appArmorProfile": {
        "type": "Localhost", "localhostProfile": "p"}})),
    ("apparmor-field-runtime-default", hardened({"appArmorProfile": {"type": "RuntimeDefault"}})),
    ("selinux-container_t", hardened(container_sc={"seLinuxOptions": {"type": "container_t"}})),
    ("selinux-level-only", hardened({"seLinuxOptions": {"level": "s0:c123,c456"}})),
    ("procMount-default", hardened(container_sc={"procMount": "Default"})),
    ("sysctl-safe", hardened({"sysctls": [
        {"name": "net.ipv4.ip_local_port_range", "value": "1024 65535"},
        {"name": "kernel.shm_rmid_forced", "value": "1"}]})),
    ("hostProcess-false", hardened({"windowsOptions": {"hostProcess": False}})),
    ("runAsUser-1000", hardened({"runAsUser": 1000}, {"runAsUser": 1001})),
    ("volumes-restricted-set", hardened(volumes=[
        {"name": "a", "configMap": {"name": "c"}}, {"name": "b", "secret": {"secretName": "s"}},
        {"name": "c", "emptyDir": {}}, {"name": "d", "projected": {"sources": []}},
        {"name": "e", "downwardAPI": {"items": []}},
        {"name": "f", "persistentVolumeClaim": {"claimName": "data"}},
        {"name": "g", "csi": {"driver": "d"}}, {"name": "h", "ephemeral": {}}])),
]


@pytest.mark.parametrize(("pod", "field"), [(p, f) for _, p, f in BASELINE_FAILS],
                         ids=[c for c, _, _ in BASELINE_FAILS])
def test_baseline_control_refused_at_both_levels(pod: Obj, field: str) -> None:
    assert fields(pod, BASELINE) == [field]
    assert fields(pod, RESTRICTED) == [field]


@pytest.mark.parametrize("pod", [p for _, p in BASELINE_PASSES],
                         ids=[c for c, _ in BASELINE_PASSES])
def test_allowed_values_pass_both_levels(pod: Obj) -> None:
    assert fields(pod, BASELINE) == []
    assert fields(pod, RESTRICTED) == []


# (case, pod, violating field) of the restricted-only controls: fine at baseline.
RESTRICTED_FAILS: list[tuple[str, Obj, str]] = [
    ("runAsUser-0-pod", hardened({"runAsUser": 0}), f"{POD}.runAsUser"),
    ("runAsUser-0-container", hardened(container_sc={"runAsUser": 0}), f"{C0}.runAsUser"),
    ("volume-nfs", hardened(volumes=[{"name": "n", "nfs": {"server": "s", "path": "/"}}]),
     "spec.volumes[0].nfs"),
    ("volume-iscsi", hardened(volumes=[{"name": "c", "emptyDir": {}},
                                       {"name": "i", "iscsi": {"targetPortal": "t"}}]),
     "spec.volumes[1].iscsi"),
    ("volume-gitRepo", hardened(volumes=[{"name": "g", "gitRepo": {"repository": "r"}}]),
     "spec.volumes[0].gitRepo"),
]


@pytest.mark.parametrize(("pod", "field"), [(p, f) for _, p, f in RESTRICTED_FAILS],
                         ids=[c for c, _, _ in RESTRICTED_FAILS])
def test_restricted_control_refused_only_at_restricted(pod: Obj, field: str) -> None:
    assert fields(pod, RESTRICTED) == [field]
    assert fields(pod, BASELINE) == []


def test_messages_say_what_is_wrong() -> None:
    [v] = check_pod(hardened(container_sc={"seLinuxOptions": {"type": "spc_t"}}), BASELINE)
    assert str(v) == f"{C0}.seLinuxOptions.type: SELinux type spc_t is not allowed"
    [v] = check_pod(hardened({"sysctls": [{"name": "kernel.msgmax", "value": "1"}]}), BASELINE)
    assert "kernel.msgmax" in v.rule


def test_hostpath_is_reported_once_at_restricted() -> None:
    pod = hardened(volumes=[{"name": "h", "hostPath": {"path": "/etc"}}])
    assert fields(pod, RESTRICTED) == ["spec.volumes[0].hostPath"]


def test_ephemeral_container_is_checked_like_the_others() -> None:
    pod = hardened(ephemeralContainers=[{"name": "debug", "image": "busybox", "securityContext": {
        **HARDENED_SC, "seLinuxOptions": {"type": "spc_t"}}}])
    field = "spec.ephemeralContainers[0].securityContext.seLinuxOptions.type"
    assert fields(pod, BASELINE) == [field]
