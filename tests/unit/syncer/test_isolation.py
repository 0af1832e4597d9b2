"""Isolation rules (syncer/isolation.py): every violation names the exact field."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from syncer.core.isolation import IsolationPolicy, Violation, check_pod, check_service, describe

Obj = dict[str, Any]
BASELINE = IsolationPolicy()
RESTRICTED = IsolationPolicy(pod_security="restricted")


def container(name: str = "app", **extra: Any) -> Obj:
    return {"name": name, "image": "nginx:1.27", **extra}


def pod(*containers: Obj, **spec: Any) -> Obj:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "namespace": "default"},
            "spec": {"containers": list(containers) or [container()], **spec}}


def sc(**fields: Any) -> Obj:
    return {"securityContext": fields}


HARDENED_SC = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}
HARDENED_POD_SC = {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}


def hardened(*containers: Obj, **spec: Any) -> Obj:
    spec.setdefault("securityContext", dict(HARDENED_POD_SC))
    return pod(*(containers or (container(securityContext=copy.deepcopy(HARDENED_SC)),)), **spec)


def fields(violations: list[Violation]) -> list[str]:
    return [v.field for v in violations]


CLEAN_BASELINE = [
    pod(),
    pod(container(ports=[{"containerPort": 80}])),
    pod(container(ports=[{"containerPort": 80, "hostPort": 0}])),
    pod(container(**sc(privileged=False))),
    pod(container(**sc(capabilities={"add": ["NET_BIND_SERVICE", "CHOWN", "SYS_CHROOT"]}))),
    pod(hostNetwork=False, hostPID=False, hostIPC=False),
    pod(volumes=[{"name": "data", "emptyDir": {}}, {"name": "cfg", "configMap": {"name": "c"}}]),
]


@pytest.mark.parametrize("p", CLEAN_BASELINE)
def test_clean_pods_pass_at_baseline(p: Obj) -> None:
    assert check_pod(p, BASELINE) == []


BASELINE_VIOLATIONS: list[tuple[str, Obj, list[str]]] = [
    ("privileged", pod(container("a"), container("b", **sc(privileged=True))),
     ["spec.containers[1].securityContext.privileged"]),
    ("privileged-init", pod(initContainers=[container("i", **sc(privileged=True))]),
     ["spec.initContainers[0].securityContext.privileged"]),
    ("privileged-ephemeral", pod(ephemeralContainers=[container("d", **sc(privileged=True))]),
     ["spec.ephemeralContainers[0].securityContext.privileged"]),
    ("hostPath", pod(volumes=[{"name": "a", "emptyDir": {}},
                              {"name": "h", "hostPath": {"path": "/etc"}}]),
     ["spec.volumes[1].hostPath"]),
    ("hostNetwork", pod(hostNetwork=True), ["spec.hostNetwork"]),
    ("hostPID", pod(hostPID=True), ["spec.hostPID"]),
    ("hostIPC", pod(hostIPC=True), ["spec.hostIPC"]),
    ("hostPort", pod(container("a"), container("b", ports=[
        {"containerPort": 80}, {"containerPort": 443, "hostPort": 8443}])),
     ["spec.containers[1].ports[1].hostPort"]),
    ("cap-sys-admin", pod(container(**sc(capabilities={"add": ["SYS_ADMIN"]}))),
     ["spec.containers[0].securityContext.capabilities.add"]),
    ("cap-net-raw", pod(container(**sc(capabilities={"add": ["CHOWN", "NET_RAW"]}))),
     ["spec.containers[0].securityContext.capabilities.add"]),
    ("several", pod(container(**sc(privileged=True)), hostNetwork=True, hostPID=True),
     ["spec.hostNetwork", "spec.hostPID", "spec.containers[0].securityContext.privileged"]),
]


@pytest.mark.parametrize(("p", "expected"), [(p, e) for _, p, e in BASELINE_VIOLATIONS],
                         ids=[i for i, _, _ in BASELINE_VIOLATIONS])
def test_baseline_violations_name_the_field(p: Obj, expected: list[str]) -> None:
    assert sorted(fields(check_pod(p, BASELINE))) == sorted(expected)


@pytest.mark.parametrize(("p", "expected"), [(p, e) for _, p, e in BASELINE_VIOLATIONS],
                         ids=[i for i, _, _ in BASELINE_VIOLATIONS])
def test_baseline_violations_also_apply_at_restricted(p: Obj, expected: list[str]) -> None:
    got = fields(check_pod(p, RESTRICTED))
    for f in expected:
        assert f in got


def test_violation_message_names_capability_and_level() -> None:
    [v] = check_pod(pod(container(**sc(capabilities={"add": ["SYS_ADMIN"]}))), BASELINE)
    assert "SYS_ADMIN" in v.rule and "baseline" in v.rule
    assert str(v) == f"{v.field}: {v.rule}"
    assert describe([v, v]) == f"{v}; {v}"


def test_privileged_message() -> None:
    [v] = check_pod(pod(container(**sc(privileged=True))), BASELINE)
    assert str(v) == ("spec.containers[0].securityContext.privileged: "
                      "privileged containers are not allowed")


HARDENED_PASSING = [
    ("pod-level", hardened()),
    ("net-bind-service", hardened(container(securityContext={
        **HARDENED_SC, "capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}}))),
    ("container-level-only", hardened(
        container("a", securityContext={**HARDENED_SC, **HARDENED_POD_SC}),
        container("b", securityContext={**HARDENED_SC, "runAsNonRoot": True,
                                        "seccompProfile": {"type": "Localhost",
                                                           "localhostProfile": "p.json"}}),
        securityContext={})),
    ("init-too", hardened(container(securityContext=dict(HARDENED_SC)),
                          initContainers=[container("i", securityContext=dict(HARDENED_SC))])),
]


@pytest.mark.parametrize("p", [p for _, p in HARDENED_PASSING],
                         ids=[i for i, _ in HARDENED_PASSING])
def test_hardened_pod_passes_restricted(p: Obj) -> None:
    assert check_pod(p, RESTRICTED) == []
    assert check_pod(p, BASELINE) == []


RESTRICTED_VIOLATIONS: list[tuple[str, Obj, list[str]]] = [
    ("baseline-clean-pod", pod(), [
        "spec.containers[0].securityContext.allowPrivilegeEscalation",
        "spec.containers[0].securityContext.capabilities.drop",
        "spec.securityContext.runAsNonRoot",
        "spec.securityContext.seccompProfile.type"]),
    ("escalation-true", hardened(container(securityContext={
        **HARDENED_SC, "allowPrivilegeEscalation": True})),
     ["spec.containers[0].securityContext.allowPrivilegeEscalation"]),
    ("second-container-no-drop", hardened(
        container("a", securityContext=dict(HARDENED_SC)),
        container("b", securityContext={"allowPrivilegeEscalation": False,
                                        "capabilities": {"drop": ["NET_RAW"]}})),
     ["spec.containers[1].securityContext.capabilities.drop"]),
    ("init-container-escalation", hardened(
        container(securityContext=dict(HARDENED_SC)),
        initContainers=[container("i", securityContext={"capabilities": {"drop": ["ALL"]}})]),
     ["spec.initContainers[0].securityContext.allowPrivilegeEscalation"]),
    ("baseline-cap-not-restricted", hardened(container(securityContext={
        **HARDENED_SC, "capabilities": {"drop": ["ALL"], "add": ["CHOWN"]}})),
     ["spec.containers[0].securityContext.capabilities.add"]),
    ("no-run-as-non-root", hardened(securityContext={"seccompProfile": {"type": "RuntimeDefault"}}),
     ["spec.securityContext.runAsNonRoot"]),
    ("run-as-non-root-false", hardened(securityContext={
        "runAsNonRoot": False, "seccompProfile": {"type": "RuntimeDefault"}}),
     ["spec.securityContext.runAsNonRoot"]),
    ("only-some-containers-non-root", hardened(
        container("a", securityContext={**HARDENED_SC, "runAsNonRoot": True}),
        container("b", securityContext=dict(HARDENED_SC)),
        securityContext={"seccompProfile": {"type": "RuntimeDefault"}}),
     ["spec.securityContext.runAsNonRoot"]),
    ("no-seccomp", hardened(securityContext={"runAsNonRoot": True}),
     ["spec.securityContext.seccompProfile.type"]),
    ("seccomp-unconfined", hardened(securityContext={
        "runAsNonRoot": True, "seccompProfile": {"type": "Unconfined"}}),
     ["spec.securityContext.seccompProfile.type"]),
]


@pytest.mark.parametrize(("p", "expected"), [(p, e) for _, p, e in RESTRICTED_VIOLATIONS],
                         ids=[i for i, _, _ in RESTRICTED_VIOLATIONS])
def test_restricted_violations_name_the_field(p: Obj, expected: list[str]) -> None:
    assert sorted(fields(check_pod(p, RESTRICTED))) == sorted(expected)


# Pod Security Standards, restricted: a container-level value overrides the pod-level one, so
# a container that explicitly sets runAsNonRoot=false or seccompProfile Unconfined breaks the
# level even when the pod-level field is right (the edge namespace's PSA enforce label would
# then reject the pod that fusionvc let through).
CONTAINER_OVERRIDES: list[tuple[str, Obj, str]] = [
    ("container-run-as-non-root-false", hardened(
        container(securityContext={**HARDENED_SC, "runAsNonRoot": False})), "runAsNonRoot"),
    ("container-seccomp-unconfined", hardened(
        container(securityContext={**HARDENED_SC, "seccompProfile": {"type": "Unconfined"}})),
     "seccompProfile"),
]


@pytest.mark.parametrize(("p", "field_part"), [(p, f) for _, p, f in CONTAINER_OVERRIDES],
                         ids=[i for i, _, _ in CONTAINER_OVERRIDES])
def test_restricted_container_override_of_pod_level_is_a_violation(p: Obj,
                                                                   field_part: str) -> None:
    got = fields(check_pod(p, RESTRICTED))
    assert any(field_part in f for f in got), got


def test_check_pod_does_not_mutate() -> None:
    p = pod(container(**sc(privileged=True)), hostNetwork=True)
    before = copy.deepcopy(p)
    check_pod(p, RESTRICTED)
    assert p == before


def svc(type_: str | None = None, **spec: Any) -> Obj:
    s: Obj = {"ports": [{"port": 80}], "selector": {"app": "web"}, **spec}
    if type_:
        s["type"] = type_
    return {"metadata": {"name": "web", "namespace": "default"}, "spec": s}


@pytest.mark.parametrize(
    ("service", "policy", "expected"),
    [
        (svc(), BASELINE, []),
        (svc("ClusterIP"), BASELINE, []),
        (svc("ExternalName", externalName="example.com"), BASELINE, []),
        (svc("NodePort"), BASELINE, ["spec.type"]),
        (svc("NodePort"), IsolationPolicy(allow_node_port=True), []),
        (svc("NodePort"), IsolationPolicy(allow_load_balancer=True), ["spec.type"]),
        (svc("LoadBalancer"), BASELINE, ["spec.type"]),
        (svc("LoadBalancer"), IsolationPolicy(allow_load_balancer=True), []),
        (svc("LoadBalancer"), IsolationPolicy(allow_node_port=True), ["spec.type"]),
        (svc(externalIPs=["1.2.3.4"]), BASELINE, ["spec.externalIPs"]),
        (svc(externalIPs=[]), BASELINE, []),
        (svc("NodePort", externalIPs=["1.2.3.4"]),
         IsolationPolicy(allow_node_port=True, allow_load_balancer=True), ["spec.externalIPs"]),
        (svc("NodePort", externalIPs=["1.2.3.4"]), BASELINE, ["spec.type", "spec.externalIPs"]),
    ],
)
def test_check_service(service: Obj, policy: IsolationPolicy, expected: list[str]) -> None:
    assert fields(check_service(service, policy)) == expected


@pytest.mark.parametrize("type_", ["NodePort", "LoadBalancer"])
def test_check_service_message_names_the_type(type_: str) -> None:
    [v] = check_service(svc(type_), BASELINE)
    assert type_ in v.rule and "tenant policy" in v.rule
