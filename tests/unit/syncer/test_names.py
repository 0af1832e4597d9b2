"""The naming contract (syncer/names.py)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from syncer.core.names import (
    HASH_LEN,
    NAMESPACE_MAX,
    OBJECT_NAME_MAX,
    edge_namespace,
    fit,
    short_hash,
    virtual_node_name,
)

DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
labels = st.from_regex(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?", fullmatch=True)
uids = st.uuids().map(str)
SUFFIX = re.compile(rf"-[0-9a-f]{{{HASH_LEN}}}$")


def test_edge_namespace_short_is_readable() -> None:
    h = short_hash("uid-1", 6)
    assert edge_namespace("acme", "uid-1", "web") == f"acme-{h}-web"


def test_edge_namespace_is_deterministic() -> None:
    args = ("acme", "0b8f6a7e-1d2c-4c89-9a57-5b3c0f2b8d11", "team-a")
    assert edge_namespace(*args) == edge_namespace(*args)


def test_edge_namespace_long_inputs_are_cut_with_hash() -> None:
    tenant, uid, ns = "t" * 40, "uid-1", "n" * 63
    full = f"{tenant}-{short_hash(uid, 6)}-{ns}"
    got = edge_namespace(tenant, uid, ns)
    assert len(got) == NAMESPACE_MAX
    assert DNS_LABEL.fullmatch(got)
    assert got == f"{full[:NAMESPACE_MAX - HASH_LEN - 1]}-{short_hash(full, HASH_LEN)}"
    assert SUFFIX.search(got)


def test_edge_namespace_cut_names_differ_by_namespace() -> None:
    tenant = "t" * 40
    a = edge_namespace(tenant, "u", "n" * 62 + "a")
    b = edge_namespace(tenant, "u", "n" * 62 + "b")
    assert a != b
    assert a[:-HASH_LEN] == b[:-HASH_LEN]  # same readable prefix, told apart by the hash


@settings(max_examples=80, deadline=None)
@given(t1=labels, u1=uids, t2=labels, u2=uids, ns=labels)
def test_edge_namespace_never_collides_between_tenants(t1: str, u1: str, t2: str, u2: str,
                                                       ns: str) -> None:
    a, b = edge_namespace(t1, u1, ns), edge_namespace(t2, u2, ns)
    for name in (a, b):
        assert len(name) <= NAMESPACE_MAX
        assert DNS_LABEL.fullmatch(name), name
    if (t1, u1) != (t2, u2):
        assert a != b


@settings(max_examples=40, deadline=None)
@given(tenant=labels, uid=uids, ns=labels)
def test_edge_namespace_same_tenant_other_uid(tenant: str, uid: str, ns: str) -> None:
    """A tenant deleted and created again (new UID) gets fresh namespaces."""
    assert edge_namespace(tenant, uid, ns) != edge_namespace(tenant, uid + "x", ns)


@pytest.mark.parametrize(
    ("tenant", "namespace"),
    [("a", "b"), ("a-b", "c"), ("a", "b-c"), ("x" * 40, "y" * 63), ("x" * 63, "y" * 63)],
)
def test_edge_namespace_distinct_namespaces_same_tenant(tenant: str, namespace: str) -> None:
    assert edge_namespace(tenant, "u", namespace) != edge_namespace(tenant, "u", namespace + "z")


@pytest.mark.parametrize(
    ("cluster", "node"),
    [("edge-1", "node-1"), ("e" * 63, "n" * 253), ("edge-1", "ip-10-0-0-1.eu-west-1.compute")],
)
def test_virtual_node_name(cluster: str, node: str) -> None:
    got = virtual_node_name(cluster, node)
    assert got == virtual_node_name(cluster, node)
    assert len(got) <= OBJECT_NAME_MAX
    full = f"vn-{cluster}-{node}"
    if len(full) <= OBJECT_NAME_MAX:
        assert got == full
    else:
        assert len(got) == OBJECT_NAME_MAX
        assert SUFFIX.search(got)


def test_virtual_node_names_differ_per_node_when_cut() -> None:
    cluster = "e" * 63
    a = virtual_node_name(cluster, "n" * 250 + "a")
    assert a != virtual_node_name(cluster, "n" * 250 + "b")


@pytest.mark.parametrize(
    ("name", "limit", "expected"),
    [
        ("a" * 63, 63, "a" * 63),  # exactly the limit: unchanged
        ("a" * 62, 63, "a" * 62),
        ("", 63, ""),
        ("a" * 64, 63, "a" * 52 + "-" + short_hash("a" * 64, HASH_LEN)),  # one over: cut
        ("a" * 51 + "-" + "b" * 20, 63,  # a '-' at the cut is not doubled
         "a" * 51 + "-" + short_hash("a" * 51 + "-" + "b" * 20, HASH_LEN)),
        ("a" * 50 + ".-" + "b" * 20, 63,
         "a" * 50 + "-" + short_hash("a" * 50 + ".-" + "b" * 20, HASH_LEN)),
        ("a" * 254, 253, "a" * 242 + "-" + short_hash("a" * 254, HASH_LEN)),
    ],
)
def test_fit(name: str, limit: int, expected: str) -> None:
    got = fit(name, limit)
    assert got == expected
    assert len(got) <= limit


@settings(max_examples=100, deadline=None)
@given(name=st.text(alphabet="abc-.", min_size=0, max_size=120), limit=st.integers(20, 100))
def test_fit_never_exceeds_limit(name: str, limit: int) -> None:
    got = fit(name, limit)
    assert len(got) <= limit
    assert (got == name) == (len(name) <= limit)
