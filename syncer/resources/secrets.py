"""Secrets: copied to the edge clusters whose pods use them (see dependents).

Service-account token Secrets of the tenant are never copied: a tenant token
must not reach an edge cluster.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..fleet import TenantConn
from ..keys import WorkKey
from ..kube.resources import SECRETS
from .base import register
from .dependents import DependentSyncer, dependent_watches

TOKEN_TYPE = "kubernetes.io/service-account-token"


@register
class SecretSyncer(DependentSyncer):
    kind = "Secret"
    resource = SECRETS
    index = "secret"
    tenant_watches, edge_watches = dependent_watches(SECRETS)

    def tenant_event(self, tenant: TenantConn, watch: str, old: dict[str, Any] | None,
                     new: dict[str, Any] | None) -> Iterable[WorkKey]:
        obj = new or old
        if obj is not None and obj.get("type") == TOKEN_TYPE:
            return ()
        return super().tenant_event(tenant, watch, old, new)

    def wanted_edges(self, tenant: TenantConn, namespace: str, name: str) -> set[str]:
        obj = tenant.get(SECRETS, namespace, name)
        if obj is not None and obj.get("type") == TOKEN_TYPE:
            return set()
        return super().wanted_edges(tenant, namespace, name)
