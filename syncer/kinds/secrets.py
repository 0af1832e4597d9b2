"""Secrets: copied to the edge clusters whose pods use them (see dependents).

Service-account token Secrets of the tenant are never copied: a tenant token
must not reach an edge cluster.
"""

from __future__ import annotations

from syncer.kinds.dependents import DependentSyncer, dependent_watches
from syncer.kube import Obj
from syncer.kube.apis import SECRETS

TOKEN_TYPE = "kubernetes.io/service-account-token"


class SecretSyncer(DependentSyncer):
    kind = "Secret"
    copied = resource = SECRETS
    index = "secret"
    tenant_watches, edge_watches = dependent_watches(SECRETS, index)

    def copyable(self, obj: Obj) -> bool:
        return obj.get("type") != TOKEN_TYPE
