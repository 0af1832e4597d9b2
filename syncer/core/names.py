"""The naming contract between tenant and edge clusters (stable: changing it breaks upgrades).

- Edge namespace of a tenant namespace: ``<tenant>-<hash6(tenant uid)>-<namespace>``,
  cut to 52 characters plus ``-`` and 10 hex digits of the full name's sha256
  when longer than 63. Two tenants never share one: their names differ, and so
  do their UIDs' hashes.
- A name that fits in 63 characters but has the shape of a cut one (52
  characters, ``-``, 10 hex digits) could be the cut form of a longer namespace
  of the same tenant, so it is cut too, from the name and a NUL (which no
  namespace name contains): the two get different hashes. Every other name is
  as before; the rarer lookalikes (a cut whose 52 characters ended in ``-``) are
  caught by the owner markers of the edge namespace (kinds/namespaces.py).
- Object names inside that namespace stay as the tenant wrote them.
- Edge RuntimeClass of a tenant RuntimeClass (cluster-scoped, so tenant-scoped by name):
  ``<tenant>-<hash6(tenant uid)>-<name>``, cut the same way at 253 characters.
- Virtual node of an edge node: ``vn-<edge cluster>-<node>``, cut the same way
  at 253 characters.
"""

from __future__ import annotations

import functools
import hashlib
import re

NAMESPACE_MAX = 63
OBJECT_NAME_MAX = 253
HASH_LEN = 10
_CUT_SHAPE = re.compile(rf"^.{{{NAMESPACE_MAX - HASH_LEN - 1}}}-[0-9a-f]{{{HASH_LEN}}}$")


def short_hash(text: str, length: int) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def fit(name: str, limit: int) -> str:
    """name when it fits; else a prefix, '-', and a hash of the whole name."""
    if len(name) <= limit:
        return name
    prefix = name[: limit - HASH_LEN - 1].rstrip("-.")
    return f"{prefix}-{short_hash(name, HASH_LEN)}"


def looks_cut(name: str) -> bool:
    """A 63-character name of the shape fit gives a cut name."""
    return len(name) == NAMESPACE_MAX and _CUT_SHAPE.match(name) is not None


@functools.lru_cache(maxsize=8192)  # asked for on every pod reconcile; sha256 each time
def edge_namespace(tenant: str, tenant_uid: str, namespace: str) -> str:
    name = f"{tenant}-{short_hash(tenant_uid, 6)}-{namespace}"
    if looks_cut(name):
        return fit(name + "\0", NAMESPACE_MAX)
    return fit(name, NAMESPACE_MAX)


def virtual_node_name(edge_cluster: str, node: str) -> str:
    return fit(f"vn-{edge_cluster}-{node}", OBJECT_NAME_MAX)


def edge_runtime_class(tenant: str, tenant_uid: str, name: str) -> str:
    return fit(f"{tenant}-{short_hash(tenant_uid, 6)}-{name}", OBJECT_NAME_MAX)
