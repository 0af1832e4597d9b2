"""The naming contract between tenant and edge clusters (stable: changing it breaks upgrades).

- Edge namespace of a tenant namespace: ``<tenant>-<hash6(tenant uid)>-<namespace>``,
  cut to 52 characters plus ``-`` and 10 hex digits of the full name's sha256
  when longer than 63. Two tenants never share one: their names differ, and so
  do their UIDs' hashes.
- Object names inside that namespace stay as the tenant wrote them.
- Edge RuntimeClass of a tenant RuntimeClass (cluster-scoped, so tenant-scoped by name):
  ``<tenant>-<hash6(tenant uid)>-<name>``, cut the same way at 253 characters.
- Virtual node of an edge node: ``vn-<edge cluster>-<node>``, cut the same way
  at 253 characters.
"""

from __future__ import annotations

import hashlib

NAMESPACE_MAX = 63
OBJECT_NAME_MAX = 253
HASH_LEN = 10


def short_hash(text: str, length: int) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def fit(name: str, limit: int) -> str:
    """name when it fits; else a prefix, '-', and a hash of the whole name."""
    if len(name) <= limit:
        return name
    prefix = name[: limit - HASH_LEN - 1].rstrip("-.")
    return f"{prefix}-{short_hash(name, HASH_LEN)}"


def edge_namespace(tenant: str, tenant_uid: str, namespace: str) -> str:
    return fit(f"{tenant}-{short_hash(tenant_uid, 6)}-{namespace}", NAMESPACE_MAX)


def virtual_node_name(edge_cluster: str, node: str) -> str:
    return fit(f"vn-{edge_cluster}-{node}", OBJECT_NAME_MAX)


def edge_runtime_class(tenant: str, tenant_uid: str, name: str) -> str:
    return fit(f"{tenant}-{short_hash(tenant_uid, 6)}-{name}", OBJECT_NAME_MAX)
