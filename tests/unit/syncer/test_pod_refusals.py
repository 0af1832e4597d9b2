"""Edge refusals of pods reach the tenant and are not retried until the pod changes; a bound
pod whose edge copy is lost is always noticed (syncer/kinds/pod_refusals.py, PodSyncer)."""

from __future__ import annotations

import pytest

from syncer.core import markers
from syncer.core.conditions import get_condition
from syncer.core.keys import WorkKey
from syncer.kinds import pod_refusals
from syncer.kinds.pod_refusals import (
    ANNOTATIONS_LIMIT,
    RefusedVersions,
    is_permanent,
    is_refusal,
    oversized_annotations,
    refusal_message,
    tenant_terms,
    update_refusal_message,
)
from syncer.kube import Obj
from syncer.kube.apis import EVENTS, PODS
from syncer.kube.client import KubeError
from tests.builders import container, pod, pod_spec

from .harness import SyncTest

KEY = WorkKey("tenant-a", "Pod", "shop", "web")
EDGE_NS = "tenant-a-1a2b3c-shop"

TERMS = [
    ("namespace", f'pods "web" is forbidden: exceeded quota in {EDGE_NS}',
     'pods "web" is forbidden: exceeded quota in shop'),
    ("url", 'Internal error occurred: failed calling webhook "x": Post '
            '"https://10.0.0.1:443/validate?timeout=10s": denied',
     'Internal error occurred: failed calling webhook "x": Post "<edge>": denied'),
    ("cluster-name", "node edge-1 has no RuntimeClass handler on edge-1",
     "node <edge cluster> has no RuntimeClass handler on <edge cluster>"),
    ("untouched", 'pods "web" is forbidden: pod rejected: RuntimeClass "gvisor" not found',
     'pods "web" is forbidden: pod rejected: RuntimeClass "gvisor" not found'),
]


@pytest.mark.parametrize(("message", "want"), [(m, w) for _, m, w in TERMS],
                         ids=[c for c, _, _ in TERMS])
def test_tenant_terms_hide_the_edge_names(message: str, want: str) -> None:
    assert tenant_terms(message, edge_namespace=EDGE_NS, tenant_namespace="shop",
                        edge_cluster="edge-1") == want


CLASSES = [  # (status, message, refusal told to the tenant, permanent)
    (403, 'pods "web" is forbidden: violates PodSecurity "baseline:latest": sysctls', True, True),
    (403, 'pods "web" is forbidden: pod rejected: RuntimeClass "gvisor" not found', True, True),
    (422, "Pod is invalid: metadata.annotations: Too long", True, True),
    (400, "bad request", True, True),
    (403, 'pods "web" is forbidden: exceeded quota: fusionvc-quota', True, False),
    (403, "unable to create new content in namespace x because it is being terminated", True,
     False),
    (404, 'namespaces "x" not found', False, False),
    (409, "already exists", False, False),
    (429, "too many requests", False, False),
    (500, "etcd timeout", False, False),
    (0, "connection refused", False, False),
]


@pytest.mark.parametrize(("status", "message", "refusal", "permanent"), CLASSES)
def test_which_errors_are_refusals(status: int, message: str, refusal: bool,
                                   permanent: bool) -> None:
    err = KubeError(status, "Forbidden", message)
    assert is_refusal(err) is refusal
    assert is_permanent(err) is permanent


def test_refusal_message_names_the_reason() -> None:
    err = KubeError(403, "Forbidden", f'pods "web" is forbidden in {EDGE_NS}')
    assert refusal_message(err, edge_namespace=EDGE_NS, tenant_namespace="shop",
                           edge_cluster="edge-1") == (
        'the edge cluster refused this pod (Forbidden): pods "web" is forbidden in shop')


def test_oversized_annotations_counts_keys_and_values() -> None:
    small: Obj = {"metadata": {"annotations": {"a": "b" * 100}}}
    assert oversized_annotations(small) is None
    big: Obj = {"metadata": {"annotations": {"a": "b" * ANNOTATIONS_LIMIT}}}
    message = oversized_annotations(big)
    assert message is not None and str(ANNOTATIONS_LIMIT + 1) in message


def test_refusals_are_forgotten_when_the_pod_changes() -> None:
    refusals = RefusedVersions()
    p = pod("shop", "web", uid="u1")
    p["metadata"]["generation"] = 1
    refusals.remember(p)
    assert refusals.refused(p)
    assert refusals.refused({**p, "status": {"phase": "Pending"}})  # status is not the pod
    for changed in ({"generation": 2}, {"labels": {"app": "web2"}},
                    {"annotations": {"a": "b"}}, {"uid": "u2"}):
        assert not refusals.refused({**p, "metadata": {**p["metadata"], **changed}})


def test_nothing_refused_answers_without_a_digest(monkeypatch: pytest.MonkeyPatch) -> None:
    digests: list[str] = []

    def counted(p: Obj) -> tuple[str, str]:
        digests.append(p["metadata"]["uid"])
        return real(p)

    real = pod_refusals.pod_version
    monkeypatch.setattr(pod_refusals, "pod_version", counted)
    refusals = RefusedVersions()
    p, other = pod("shop", "web", uid="u1"), pod("shop", "api", uid="u2")
    assert not refusals.refused(p)
    assert digests == []  # the usual case: every pod placed, none refused
    refusals.remember(p)
    assert refusals.refused(p) and not refusals.refused(other)


def refused_sysctl_pod() -> Obj:
    return pod("shop", "web", spec=pod_spec(securityContext={
        "sysctls": [{"name": "net.ipv4.tcp_syncookies", "value": "1"}]}))


async def test_an_edge_refusal_is_a_condition_and_one_event_and_no_retry(sync: SyncTest) -> None:
    edge, tenant = sync.ctx.edges["edge-1"], sync.ctx.tenants["tenant-a"]
    sync.client(edge).fail[("create", "pods")] = KubeError(
        403, "Forbidden", f'pods "web" is forbidden: RuntimeClass "gvisor" not found in '
        f'{sync.edge_ns()}')
    sync.put(tenant, PODS, refused_sysctl_pod())
    await sync.settle()
    tpod = tenant.get(PODS, "shop", "web")
    assert tpod is not None
    cond = get_condition(tpod, "PodScheduled")
    assert cond is not None and (cond["status"], cond["reason"]) == ("False", "EdgeRefused")
    assert sync.edge_ns() not in cond["message"] and "gvisor" in cond["message"]
    assert [e for e in tenant.store(EVENTS) if e["reason"] == "SyncRejected"]
    creates = [c for c in sync.client(edge).calls if (c.verb, c.resource) == ("create", "pods")]
    assert len(creates) == 1
    for _ in range(3):  # drift scans: the same pod is not sent again
        sync.ctx.queue.add(KEY)
        await sync.settle()
    assert len([c for c in sync.client(edge).calls if c.verb == "create" and c.resource == "pods"]
               ) == 1
    del sync.client(edge).fail[("create", "pods")]
    sync.put(tenant, PODS, {**tpod, "metadata": {**tpod["metadata"],
                                                 "labels": {"app": "web", "fixed": "yes"}}})
    await sync.settle()
    assert edge.get(PODS, sync.edge_ns(), "web") is not None


async def test_a_quota_refusal_is_told_and_tried_again_later(sync: SyncTest) -> None:
    edge, tenant = sync.ctx.edges["edge-1"], sync.ctx.tenants["tenant-a"]
    sync.client(edge).fail[("create", "pods")] = KubeError(
        403, "Forbidden", 'pods "web" is forbidden: exceeded quota: fusionvc-quota')
    sync.put(tenant, PODS, pod("shop", "web"))
    await sync.settle()
    tpod = tenant.get(PODS, "shop", "web")
    assert tpod is not None
    assert (get_condition(tpod, "PodScheduled") or {}).get("reason") == "EdgeRefused"
    assert not sync.syncer("Pod").create_refusals.refused(tpod)  # type: ignore[attr-defined]


async def test_annotations_that_overflow_with_markers_are_refused_before_writing(
        sync: SyncTest) -> None:
    edge, tenant = sync.ctx.edges["edge-1"], sync.ctx.tenants["tenant-a"]
    big = pod("shop", "web")
    big["metadata"]["annotations"] = {"blob": "x" * (ANNOTATIONS_LIMIT - 10)}
    sync.put(tenant, PODS, big)
    await sync.settle()
    assert not [c for c in sync.client(edge).calls if c.verb == "create" and c.resource == "pods"]
    tpod = tenant.get(PODS, "shop", "web")
    assert tpod is not None
    cond = get_condition(tpod, "PodScheduled")
    assert cond is not None and "metadata.annotations" in cond["message"]


async def test_a_lost_edge_copy_is_noticed_even_when_the_pod_fails_the_checks(
        sync: SyncTest) -> None:
    edge, tenant = sync.ctx.edges["edge-1"], sync.ctx.tenants["tenant-a"]
    sync.put(tenant, PODS, pod("shop", "web"))
    await sync.settle()
    epod = edge.get(PODS, sync.edge_ns(), "web")
    assert epod is not None  # it starts: only a started pod can be lost
    sync.put(edge, PODS, {**epod, "status": {"phase": "Running",
                                             "startTime": "2026-01-01T00:00:00Z"}})
    await sync.settle()
    tpod = tenant.get(PODS, "shop", "web")
    assert tpod is not None and tpod["spec"].get("nodeName")
    debug = container("debug", securityContext={"privileged": True})  # kubectl debug, sysadmin
    sync.put(tenant, PODS, {**tpod, "spec": {**tpod["spec"], "ephemeralContainers": [debug]}})
    await sync.settle()
    sync.remove(edge, PODS, sync.edge_ns(), "web")
    await sync.settle()
    tpod = tenant.get(PODS, "shop", "web")
    assert tpod is not None
    assert (tpod["status"]["phase"], tpod["status"]["reason"]) == ("Failed", "EdgePodLost")


async def placed_edge_pod(sync: SyncTest) -> Obj:
    sync.put(sync.ctx.tenants["tenant-a"], PODS, pod("shop", "web"))
    await sync.settle()
    epod = sync.ctx.edges["edge-1"].get(PODS, sync.edge_ns(), "web")
    assert epod is not None
    return epod


async def test_a_removed_managed_by_label_is_put_back_and_status_keeps_flowing(
        sync: SyncTest) -> None:
    edge, tenant = sync.ctx.edges["edge-1"], sync.ctx.tenants["tenant-a"]
    epod = await placed_edge_pod(sync)
    labels = {k: v for k, v in epod["metadata"]["labels"].items() if k != markers.MANAGED_BY}
    sync.put(edge, PODS, {**epod, "metadata": {**epod["metadata"], "labels": labels},
                          "status": {"phase": "Running", "podIP": "10.1.0.9"}})
    sync.client(edge).calls.clear()
    await sync.settle()
    got = edge.get(PODS, sync.edge_ns(), "web")
    assert got is not None and got["metadata"]["labels"][markers.MANAGED_BY] == "fusionvc"
    tpod = tenant.get(PODS, "shop", "web")
    assert tpod is not None and tpod["status"]["podIP"] == "10.1.0.9"
    assert not [c for c in sync.client(edge).calls if c.verb == "get"]  # no GET loop
    assert not [c for c in sync.client(edge).calls if c.verb == "delete"]


async def test_a_changed_tenant_uid_marker_is_repaired_not_a_deletion(sync: SyncTest) -> None:
    edge = sync.ctx.edges["edge-1"]
    epod = await placed_edge_pod(sync)
    uid = epod["metadata"]["annotations"][markers.TENANT_UID]
    annotations = {**epod["metadata"]["annotations"], markers.TENANT_UID: "forged"}
    sync.put(edge, PODS, {**epod, "metadata": {**epod["metadata"], "annotations": annotations}})
    await sync.settle()
    got = edge.get(PODS, sync.edge_ns(), "web")
    assert got is not None and got["metadata"]["annotations"][markers.TENANT_UID] == uid
    assert not [c for c in sync.client(edge).calls if c.verb == "delete"]


async def test_an_older_pods_copy_is_still_replaced(sync: SyncTest) -> None:
    edge, tenant = sync.ctx.edges["edge-1"], sync.ctx.tenants["tenant-a"]
    epod = await placed_edge_pod(sync)
    sync.remove(tenant, PODS, "shop", "web")  # gone from the tenant, its copy not yet removed
    sync.put(edge, PODS, epod)
    sync.put(tenant, PODS, pod("shop", "web"))  # a new pod of the same name, not yet bound
    await sync.settle()
    new = tenant.get(PODS, "shop", "web")
    got = edge.get(PODS, sync.edge_ns(), "web")
    assert new is not None and got is not None
    assert got["metadata"]["annotations"][markers.TENANT_UID] == new["metadata"]["uid"]
    assert [c for c in sync.client(edge).calls if c.verb == "delete"]


async def test_a_foreign_pod_in_the_edge_namespace_is_never_deleted(sync: SyncTest) -> None:
    edge, tenant = sync.ctx.edges["edge-1"], sync.ctx.tenants["tenant-a"]
    await placed_edge_pod(sync)
    foreign = pod(sync.edge_ns(), "intruder")
    sync.put(edge, PODS, foreign)
    sync.put(tenant, PODS, pod("shop", "intruder"))
    await sync.settle()
    got = edge.get(PODS, sync.edge_ns(), "intruder")
    assert got is not None and not got["metadata"].get("annotations")
    assert not [c for c in sync.client(edge).calls if c.verb == "delete"]


def test_a_missing_default_service_account_is_a_race_not_a_refusal() -> None:
    from syncer.kinds.pod_refusals import is_refusal
    race = KubeError(403, "Forbidden", 'pods "web" is forbidden: error looking up service '
                     'account shop/default: serviceaccount "default" not found')
    assert not is_refusal(race)
    assert is_refusal(KubeError(403, "Forbidden", "violates PodSecurity \"baseline\""))


def test_an_update_refusal_keeps_the_reason_and_drops_the_edge_prefix() -> None:
    err = KubeError(422, "Invalid", 'Pod "web" is invalid: spec: Forbidden: pod updates '
                    "may not change fields other than image")
    assert update_refusal_message(err) == (
        "the edge cluster refused this change (Invalid): spec: Forbidden: pod updates may not "
        "change fields other than image")
    assert update_refusal_message(KubeError(400, "", "bad")) == (
        "the edge cluster refused this change (400): bad")
