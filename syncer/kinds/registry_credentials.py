"""Registry credentials: the image pull Secret fusionvc manages in a tenant's edge namespaces.

A tenant's ``spec.registries`` (resolved by Management, ``fleet/registries.py``)
become one Secret ``fusionvc-registry-credentials`` (type
kubernetes.io/dockerconfigjson, the auths of this tenant's registries only) in
each edge namespace where a pod of the tenant pulls an image from one of them.
It is written just before such a pod (``ensure_for_pod``); the edge pod names it
in ``imagePullSecrets`` (``pull_secret_names``, applied by the pod translation).
The tenant pod is unchanged, so the tenant never sees it.

The Secret is not a copy of a tenant object: it carries fusionvc's managed-by
label and ``fusionvc.io/registry-credentials-of: <tenant>`` but no tenant label
or reference, so the Secret copies (``secrets.py``) neither index, adopt nor
remove it. A tenant pod that names the reserved Secret itself (to mount it) is
never placed: that would hand the credential to the tenant's code.

One work key per tenant keeps every edge copy in line with the resolved
credentials (changed, or removed when the tenant drops its registries); edge
namespaces go with their copies when the tenant does.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping

import orjson
import structlog

from syncer.core import markers
from syncer.core.context import ClusterConstraint, SyncContext
from syncer.core.keys import WorkKey
from syncer.core.syncer import ResourceSyncer
from syncer.fleet.conn import EdgeConn, TenantConn, WatchSpec
from syncer.fleet.registries import PULL_SECRET, REGISTRY_CREDENTIALS_KIND, pull_secret_names
from syncer.kinds.dependents import dependency_refs
from syncer.kube import Obj
from syncer.kube.apis import SECRETS
from syncer.kube.client import KubeError

log = structlog.get_logger(__name__)
CREDENTIALS_OF = "fusionvc.io/registry-credentials-of"
DOCKERCONFIG = "kubernetes.io/dockerconfigjson"


def credentials_of_index(secret: Obj) -> list[str]:
    """Index of edge Secrets by the tenant whose registry credentials they hold."""
    labels = secret["metadata"].get("labels") or {}
    tenant = labels.get(CREDENTIALS_OF)
    return [tenant] if isinstance(tenant, str) and tenant else []


def translate_pull_secret(auths: Mapping[str, Mapping[str, str]], *, tenant: str,
                          edge_namespace: str) -> Obj:
    """The edge pull Secret holding ``auths`` (pure; the same input, the same bytes)."""
    config = orjson.dumps({"auths": {s: dict(a) for s, a in auths.items()}},
                          option=orjson.OPT_SORT_KEYS)
    return {"apiVersion": "v1", "kind": "Secret", "type": DOCKERCONFIG,
            "metadata": {"name": PULL_SECRET, "namespace": edge_namespace,
                         "labels": {markers.MANAGED_BY: markers.MANAGED_BY_VALUE,
                                    CREDENTIALS_OF: tenant}},
            "data": {".dockerconfigjson": base64.b64encode(config).decode()}}


def is_ours(secret: Obj, tenant: str) -> bool:
    return credentials_of_index(secret) == [tenant] and markers.is_managed(secret)


class RegistryCredentialSyncer(ResourceSyncer):
    kind = REGISTRY_CREDENTIALS_KIND
    edge_watches = (WatchSpec(SECRETS, markers.MANAGED_SELECTOR,
                              (("registry-credentials-of", credentials_of_index),)),)

    def __init__(self, ctx: SyncContext) -> None:
        super().__init__(ctx)
        ctx.pod_dependents.append(self)
        ctx.placement_constraints.append(self)

    # ---- events -> keys ----------------------------------------------------------------

    def keys_for_pod(self, tenant: str, pod: Obj) -> Iterable[WorkKey]:
        return ()  # written for pods by ensure_for_pod; kept in line by the tenant's key

    def edge_event(self, edge: EdgeConn, watch: str, old: Obj | None,
                   new: Obj | None) -> Iterable[WorkKey]:
        obj = new or old
        assert obj is not None
        return [WorkKey(t, self.kind, "", "") for t in credentials_of_index(obj)]

    def scan(self, tenant: TenantConn) -> Iterable[WorkKey]:
        return (WorkKey(tenant.name, self.kind, "", ""),)

    # ---- placement ---------------------------------------------------------------------

    def constraint(self, tenant: TenantConn, pod: Obj) -> ClusterConstraint | None:
        if PULL_SECRET not in dependency_refs(pod, "Secret"):
            return None
        return ClusterConstraint(frozenset(), f'Secret "{PULL_SECRET}" is reserved for '
                                 "fusionvc's registry credentials; a pod may not name it")

    # ---- writes ------------------------------------------------------------------------

    async def ensure_for_pod(self, tenant: TenantConn, edge: EdgeConn, pod: Obj) -> None:
        if not pull_secret_names(tenant.registry_auths, pod):
            return
        ens = await self.ctx.namespaces.ensure(tenant, edge, pod["metadata"]["namespace"])
        await self._upsert(tenant, edge, ens, edge.get(SECRETS, ens, PULL_SECRET))

    async def _upsert(self, tenant: TenantConn, edge: EdgeConn, ens: str,
                      have: Obj | None) -> None:
        want = translate_pull_secret(tenant.registry_auths.auths, tenant=tenant.name,
                                     edge_namespace=ens)
        if have is None:
            try:
                await edge.client.create(SECRETS, want, namespace=ens)
                return
            except KubeError as err:  # 409: written by an earlier try, not yet cached
                if not err.conflict:
                    raise
                have = await edge.client.get(SECRETS, PULL_SECRET, ens)
        if not is_ours(have, tenant.name):
            raise LookupError(f"Secret {ens}/{PULL_SECRET} on {edge.name} is not fusionvc's")
        if have.get("data") != want["data"] or have.get("type") != DOCKERCONFIG:
            want["metadata"]["resourceVersion"] = have["metadata"]["resourceVersion"]
            await edge.client.replace(SECRETS, want)
            log.info("registry credentials updated", edge=edge.name, namespace=ens)

    async def reconcile(self, key: WorkKey) -> float | None:
        """Every edge copy of the tenant's pull Secret follows its resolved credentials."""
        tenant = self.ctx.tenants.get(key.tenant)
        if tenant is None:
            return None  # a removed tenant's edge namespaces are deleted with their contents
        for edge in self.ctx.edges.values():
            if not edge.synced:
                continue
            for have in edge.store(SECRETS).by_index("registry-credentials-of", tenant.name):
                meta = have["metadata"]
                if not tenant.registry_auths.auths:
                    await edge.client.delete(SECRETS, meta["name"], meta["namespace"],
                                             uid=meta["uid"])
                else:
                    await self._upsert(tenant, edge, meta["namespace"], have)
        return None
