"""Edge namespace names never collide (issue 18, item 4), and existing names are kept.

names.edge_namespace: a name that fits but looks like a cut one is cut too; every other
name is exactly what the previous contract gave (checked against a copy of it).
kinds/namespaces.py: an edge namespace whose owner marker names another tenant namespace is
neither adopted nor deleted for this one.
"""

from __future__ import annotations

import hashlib

from hypothesis import given, settings
from hypothesis import strategies as st

from syncer.core import markers
from syncer.core.names import HASH_LEN, NAMESPACE_MAX, edge_namespace, looks_cut, short_hash
from syncer.core.syncer import NameTaken
from syncer.kube import Obj
from syncer.kube.apis import NAMESPACES, PODS
from tests.builders import namespace, pod

from .harness import SyncTest

UID = "0b8f6a7e-1d2c-4c89-9a57-5b3c0f2b8d11"


def previous_edge_namespace(tenant: str, tenant_uid: str, namespace: str) -> str:
    """The contract before issue 18, verbatim: what existing edge namespaces are named."""
    name = f"{tenant}-{hashlib.sha256(tenant_uid.encode()).hexdigest()[:6]}-{namespace}"
    if len(name) <= 63:
        return name
    prefix = name[: 63 - 10 - 1].rstrip("-.")
    return f"{prefix}-{hashlib.sha256(name.encode()).hexdigest()[:10]}"


def lookalike_of(tenant: str, uid: str, long_ns: str) -> str:
    """The tenant namespace whose literal edge name is the cut name of long_ns."""
    prefix = f"{tenant}-{short_hash(uid, 6)}-"
    return previous_edge_namespace(tenant, uid, long_ns)[len(prefix):]


def test_the_lookalike_of_a_cut_name_gets_its_own_edge_namespace() -> None:
    long_ns = "shop-" + "x" * 58
    twin = lookalike_of("tenant-a", UID, long_ns)
    assert previous_edge_namespace("tenant-a", UID, twin) == previous_edge_namespace(
        "tenant-a", UID, long_ns)  # the collision of the old contract
    a, b = edge_namespace("tenant-a", UID, long_ns), edge_namespace("tenant-a", UID, twin)
    assert a != b
    assert len(b) <= NAMESPACE_MAX and b[:-HASH_LEN] == a[:-HASH_LEN]


KEPT = ["shop", "default", "kube-system", "ci-1700000000", "build-0123456789",
        "n" * 47, "a-" * 20 + "b", "x" * 30 + "-0123456789",  # 57 characters: not the shape
        "long-" + "y" * 58]


def test_existing_names_are_kept() -> None:
    for ns in KEPT:
        assert edge_namespace("tenant-a", UID, ns) == previous_edge_namespace(
            "tenant-a", UID, ns), ns


@settings(max_examples=300)
@given(st.from_regex(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?", fullmatch=True))
def test_only_lookalikes_change(ns: str) -> None:
    old = previous_edge_namespace("tenant-a", UID, ns)
    new = edge_namespace("tenant-a", UID, ns)
    assert (new != old) == looks_cut(f"tenant-a-{short_hash(UID, 6)}-{ns}")


def marked_edge_ns(sync: SyncTest, name: str, owner_ns: str) -> Obj:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {
        "name": name, "labels": markers.marker_labels("tenant-a"),
        "annotations": {markers.TENANT_NAMESPACE: "", markers.TENANT_NAME: owner_ns,
                        markers.TENANT_UID: "other"}}}


async def test_an_edge_namespace_held_by_another_namespace_is_not_adopted(
        sync: SyncTest) -> None:
    edge, tenant = sync.ctx.edges["edge-1"], sync.ctx.tenants["tenant-a"]
    sync.put(edge, NAMESPACES, marked_edge_ns(sync, sync.edge_ns("shop"), "other-ns"))
    ns_syncer = sync.syncer("Namespace")
    try:
        await ns_syncer.ensure(tenant, edge, "shop")  # type: ignore[attr-defined]
    except NameTaken as err:
        assert "other-ns" in err.for_tenant() and sync.edge_ns("shop") not in err.for_tenant()
    else:
        raise AssertionError("adopted another namespace's edge namespace")
    sync.put(tenant, PODS, pod("shop", "web"))
    await sync.settle()
    tpod = tenant.get(PODS, "shop", "web")
    assert tpod is not None
    cond = next(c for c in tpod["status"]["conditions"] if c["type"] == "PodScheduled")
    assert cond["reason"] == "NameTaken" and "other-ns" in cond["message"]
    assert edge.get(PODS, sync.edge_ns("shop"), "web") is None


async def test_deleting_a_namespace_never_deletes_another_namespaces_edge_namespace(
        sync: SyncTest) -> None:
    edge, tenant = sync.ctx.edges["edge-1"], sync.ctx.tenants["tenant-a"]
    sync.put(tenant, NAMESPACES, namespace("gone"))
    sync.put(edge, NAMESPACES, marked_edge_ns(sync, sync.edge_ns("gone"), "other-ns"))
    await sync.settle()
    sync.remove(tenant, NAMESPACES, "", "gone")
    await sync.settle()
    assert edge.get(NAMESPACES, "", sync.edge_ns("gone")) is not None
    assert not [c for c in sync.client(edge).calls if c.verb == "delete"]
