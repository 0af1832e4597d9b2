"""Pod Secrets: each edge pod's own Secret of tenant values, written, rotated and removed.

A tenant pod whose volumes read a ServiceAccount token, the ``kube-root-ca.crt``
ConfigMap or a downward API field whose value differs on the edge
(``pod_projection.needs_pod_secret``) gets one Secret in its edge namespace,
written just before the edge pod (``ensure_for_pod``, as a pod dependent), and
read by the edge pod's volumes (``pod_projection.project_pod_secret``). Its
content (``pod_tokens``): tokens the tenant's apiserver issued for the pod's
ServiceAccount, bound to the tenant pod; the tenant's CA; the tenant pod's
downward values. No edge credential is ever in it, and no other tenant's pod
can name it: a pod naming a Secret of the reserved prefix is not placed.

One work key per tenant pod keeps each copy in line: tokens renewed before they
expire (the reconcile returns the seconds until the next renewal), labels and
annotations followed, and the Secret removed once the tenant pod or its edge copy
is gone (a restart's ``scan`` finds those left while fusionvc was down).

The edge pod is named the Secret's owner by the first write made after the pod
exists for another reason (a renewal, a changed value), never by a write of its
own: that update cost every pod an edge write (6 per pod instead of 5), while
fusionvc removes the Secret itself when the pod goes. So a pod that lives past its
first renewal (48 min for the default 1 h token) has the edge's garbage collector
as a net should fusionvc be gone for good; a shorter-lived one relies on fusionvc.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

import structlog
from cachetools import TTLCache

from syncer.core import markers
from syncer.core.context import ClusterConstraint, SyncContext
from syncer.core.keys import WorkKey
from syncer.core.names import edge_namespace
from syncer.core.queue import DEADLINE
from syncer.core.syncer import NameTaken, ResourceSyncer
from syncer.fleet.conn import EdgeConn, TenantConn, WatchSpec
from syncer.kinds.dependents import POD_SECRET_PREFIX, ROOT_CA_CONFIGMAP, dependency_refs
from syncer.kinds.pod_projection import (
    CA_KEY,
    PodAPIAccess,
    needs_pod_secret,
    pod_secret_name,
    tenant_field_paths,
    wanted_tokens,
    wants_ca,
)
from syncer.kinds.pod_secret_echoes import SecretEchoes
from syncer.kinds.pod_tokens import (
    decoded,
    now,
    pod_of_secret,
    pod_secret_index,
    pod_secret_index_value,
    secret_differs,
    secret_refresh_at,
    token_from,
    token_path,
    token_request,
    translate_pod_secret,
)
from syncer.kube import Obj
from syncer.kube.apis import CONFIGMAPS, PODS, SECRETS
from syncer.kube.client import KubeClient, KubeError

log = structlog.get_logger(__name__)
KIND = "PodSecret"
RECENT_TTL = 30.0
INDEX = "pod-secret-of"
META_PATHS = ("metadata.labels", "metadata.annotations")


def api_address(tenant: TenantConn) -> tuple[str, int]:
    """The tenant apiserver for in-pod clients: the Tenant's podAPIServer, else the
    host and port of the kubeconfig fusionvc reaches the tenant with."""
    if tenant.spec.pod_api_server is not None:
        return tenant.spec.pod_api_server
    client = tenant.client
    url = urlsplit(client.api.configuration.host if isinstance(client, KubeClient) else "")
    return url.hostname or "kubernetes.default.svc", url.port or 443


def pod_api_access(tenant: TenantConn, pod: Obj) -> PodAPIAccess:
    host, port = api_address(tenant)
    return PodAPIAccess(pod_secret_name(pod["metadata"]["uid"]), host, port)


def _same_inputs(old: Obj, new: Obj) -> bool:
    """Nothing the pod's Secret holds changed. A pod marked for deletion counts as the
    same: its Secret stays while its edge copy runs, and that copy's removal queues the
    key. Labels and annotations count only when a downward API field reads them: a
    binding adds both, and each of its events queued a reconcile that found nothing to do."""
    o, n = old["metadata"], new["metadata"]
    if o.get("uid") != n.get("uid"):
        return False
    if o.get("labels") == n.get("labels") and o.get("annotations") == n.get("annotations"):
        return True
    return not any(p.startswith(META_PATHS) for p in tenant_field_paths(new))


def _reads_pod_secret(edge_pod: Obj) -> bool:
    return any(n.startswith(POD_SECRET_PREFIX) for n in dependency_refs(edge_pod, "Secret"))


def _own_edge_pod(edge: EdgeConn, ens: str, pod: Obj) -> Obj | None:
    epod = edge.get(PODS, ens, pod["metadata"]["name"])
    ref = markers.tenant_ref(epod) if epod is not None else None
    return epod if ref is not None and ref[2] == pod["metadata"]["uid"] else None


class PodSecretSyncer(ResourceSyncer):
    kind = KIND
    tenant_watches = (WatchSpec(PODS), WatchSpec(CONFIGMAPS))
    edge_watches = (WatchSpec(SECRETS, markers.MANAGED_SELECTOR, ((INDEX, pod_secret_index),)),
                    WatchSpec(PODS))

    def __init__(self, ctx: SyncContext) -> None:
        super().__init__(ctx)
        ctx.pod_dependents.append(self)
        ctx.placement_constraints.append(self)
        # Secrets written for a pod not yet in the edge cache: kept from removal.
        self._recent: TTLCache[tuple[str, str], bool] = TTLCache(maxsize=100_000,
                                                                  ttl=RECENT_TTL)
        self.echoes = SecretEchoes()  # the events of its own writes: not queued

    # ---- events -> keys ----------------------------------------------------------------

    def keys_for_pod(self, tenant: str, pod: Obj) -> Iterable[WorkKey]:
        return ()  # written for pods by ensure_for_pod; kept in line by the pod's key

    def tenant_event(self, tenant: TenantConn, watch: str, old: Obj | None,
                     new: Obj | None) -> Iterable[WorkKey]:
        obj = new or old
        assert obj is not None
        if watch != PODS.plural or (old is None and not obj["spec"].get("nodeName")) \
                or not needs_pod_secret(obj):
            return  # an unplaced pod's Secret is written as it is placed (ensure_for_pod)
        if old is not None and new is not None and _same_inputs(old, new):
            return
        if new is None and not self._secrets_left(tenant.name, obj):
            return  # removed with its edge copy already (the usual order)
        yield WorkKey(tenant.name, self.kind, obj["metadata"]["namespace"],
                      obj["metadata"]["name"])

    def edge_event(self, edge: EdgeConn, watch: str, old: Obj | None,
                   new: Obj | None) -> Iterable[WorkKey]:
        obj = new or old
        assert obj is not None
        if watch == SECRETS.plural:
            if self.echoes.is_echo(edge.name, old, new):
                return
            found = pod_of_secret(obj)
            if found and (new is not None or self._still_wanted(*found)):
                yield WorkKey(found[0], self.kind, found[1], found[2])
        elif new is None and _reads_pod_secret(obj):  # edge pod went
            tenant, ref = markers.tenant_of(obj), markers.tenant_ref(obj)
            if tenant and ref:
                yield WorkKey(tenant, self.kind, ref[0], ref[1])

    def _secrets_left(self, tenant_name: str, pod: Obj) -> bool:
        """An edge holds a Secret for the pod whose removal was not sent yet."""
        value = pod_secret_index_value(tenant_name, pod["metadata"]["namespace"],
                                       pod["metadata"]["name"])
        return any(not self.echoes.removing(edge.name, have)
                   for edge in self.ctx.edges.values() if edge.informers
                   for have in edge.store(SECRETS).by_index(INDEX, value))

    def _still_wanted(self, tenant_name: str, namespace: str, name: str, uid: str) -> bool:
        """A removed Secret is put back only for a live tenant pod: one that is gone or
        going needs none (the edge's garbage collector removes most with their pods)."""
        tenant = self.ctx.tenants.get(tenant_name)
        pod = tenant.get(PODS, namespace, name) if tenant is not None else None
        return pod is not None and pod["metadata"].get("uid") == uid \
            and not pod["metadata"].get("deletionTimestamp")

    def scan(self, tenant: TenantConn) -> Iterable[WorkKey]:
        keys = {WorkKey(tenant.name, self.kind, p["metadata"]["namespace"],
                        p["metadata"]["name"])
                for p in tenant.store(PODS) if p["spec"].get("nodeName") and needs_pod_secret(p)}
        for edge in self.ctx.edges.values():
            for value in edge.store(SECRETS).index_values(INDEX) if edge.informers else ():
                owner, ns, name = value.split("/", 2)
                if owner == tenant.name:
                    keys.add(WorkKey(tenant.name, self.kind, ns, name))
        return keys

    # ---- placement: the reserved names ---------------------------------------------------

    def constraint(self, tenant: TenantConn, pod: Obj) -> ClusterConstraint | None:
        named = sorted(n for n in dependency_refs(pod, "Secret")
                       if n.startswith(POD_SECRET_PREFIX))
        if not named:
            return None
        return ClusterConstraint(frozenset(), f'Secret "{named[0]}": names starting with '
                                 f'"{POD_SECRET_PREFIX}" are reserved for fusionvc')

    # ---- writes ------------------------------------------------------------------------

    async def ensure_for_pod(self, tenant: TenantConn, edge: EdgeConn, pod: Obj) -> None:
        if not needs_pod_secret(pod):
            return
        ens = await self.ctx.namespaces.ensure(tenant, edge, pod["metadata"]["namespace"])
        self._recent[(edge.name, pod["metadata"]["uid"])] = True
        name = pod_secret_name(pod["metadata"]["uid"])
        have = edge.get(SECRETS, ens, name)
        await self._write(tenant, edge, pod, ens, have, None)
        if have is None:
            # Its ADDED event is an echo. Once the edge pod has had time to appear, one
            # reconcile schedules the renewal, or removes the Secret of a pod never created.
            self.ctx.queue.add_after(WorkKey(tenant.name, self.kind, pod["metadata"]["namespace"],
                                             pod["metadata"]["name"]), RECENT_TTL + 1.0, DEADLINE)

    async def _tokens(self, tenant: TenantConn, pod: Obj,
                      have: Obj | None) -> tuple[dict[str, str], float]:
        """The pod's tokens: those it has while not due for renewal, else new ones."""
        wanted = wanted_tokens(pod)
        if have is not None and now() < secret_refresh_at(have):
            kept = {w.key: decoded(have, w.key) for w in wanted}
            if all(kept.values()):
                return {k: v for k, v in kept.items() if v}, secret_refresh_at(have)
        tokens, refresh = {}, now() + 24 * 3600.0
        for want in sorted(wanted, key=lambda w: w.key):
            issued = now()
            try:
                answer = await tenant.client.request("POST", token_path(pod),
                                                     body=token_request(pod, want))
            except KubeError as err:
                if 400 <= err.status < 500:
                    await self.ctx.recorder.warn(tenant.client, {"kind": "Pod", **pod},
                                                 "TokenRequestFailed", err.message)
                raise
            tokens[want.key], renew = token_from(answer, issued)
            refresh = min(refresh, renew)
        return tokens, refresh

    def _tenant_ca(self, tenant: TenantConn, pod: Obj) -> str | None:
        if not wants_ca(pod):
            return None
        found = tenant.get(CONFIGMAPS, pod["metadata"]["namespace"], ROOT_CA_CONFIGMAP)
        ca = ((found or {}).get("data") or {}).get(CA_KEY)
        if not ca:
            raise LookupError(f"the tenant has no {ROOT_CA_CONFIGMAP} in "
                              f"{pod['metadata']['namespace']} yet")
        return str(ca)

    async def _write(self, tenant: TenantConn, edge: EdgeConn, pod: Obj, ens: str,
                     have: Obj | None, owner: Obj | None) -> float:
        """Creates or updates the pod's Secret; returns when its tokens are due."""
        name = pod_secret_name(pod["metadata"]["uid"])
        if have is not None and pod_of_secret(have) is None:
            raise NameTaken("Secret", ens, name, edge.name)
        tokens, refresh = (await self._tokens(tenant, pod, have) if wanted_tokens(pod)
                           else ({}, now() + 24 * 3600.0))
        want = translate_pod_secret(pod, name=name, tenant=tenant.name, edge_namespace=ens,
                                    tokens=tokens, ca=self._tenant_ca(tenant, pod),
                                    refresh=refresh, owner=owner)
        if have is None:
            try:
                async with self.echoes.writing(edge.name, want):
                    await edge.client.create(SECRETS, want, namespace=ens)
                return refresh
            except KubeError as err:  # 409: written by an earlier try, not yet cached
                if not err.conflict:
                    raise
                return await self._write(tenant, edge, pod, ens,
                                         await edge.client.get(SECRETS, name, ens), owner)
        if secret_differs(have, want, owner=False):  # the owner rides along (docstring)
            want["metadata"]["resourceVersion"] = have["metadata"]["resourceVersion"]
            async with self.echoes.writing(edge.name, want):
                await edge.client.replace(SECRETS, want)
        return refresh

    async def reconcile(self, key: WorkKey) -> float | None:
        tenant = self.ctx.tenants.get(key.tenant)
        if tenant is None:
            return None  # a removed tenant's edge namespaces go with their contents
        pod = tenant.get(PODS, key.namespace, key.name)
        if pod is not None and not needs_pod_secret(pod):
            pod = None
        ens = edge_namespace(tenant.name, tenant.uid, key.namespace)
        due: float | None = None
        for edge in self.ctx.edges.values():
            if not edge.synced:
                continue
            wait = await self._converge(tenant, edge, ens, key, pod)
            if wait is not None:
                due = wait if due is None else min(due, wait)
        return due

    async def _converge(self, tenant: TenantConn, edge: EdgeConn, ens: str, key: WorkKey,
                        pod: Obj | None) -> float | None:
        """One edge: the live pod's Secret written (or renewed), every other one removed."""
        epod = _own_edge_pod(edge, ens, pod) if pod is not None else None
        recent = pod is not None and (edge.name, pod["metadata"]["uid"]) in self._recent
        going = pod is not None and bool(pod["metadata"].get("deletionTimestamp"))
        # Kept while its edge pod runs, or just written for one being created; a pod
        # marked for deletion gets no new edge copy, so once its copy is gone, so is this.
        wanted = pod_secret_name(pod["metadata"]["uid"]) if pod is not None and (
            epod is not None or (recent and not going)) else None
        for have in edge.store(SECRETS).by_index(
                INDEX, pod_secret_index_value(tenant.name, key.namespace, key.name)):
            if have["metadata"]["name"] != wanted and not self.echoes.removing(edge.name, have):
                log.debug("removing pod secret", tenant=tenant.name, edge=edge.name,
                          name=f"{ens}/{have['metadata']['name']}")
                async with self.echoes.writing(edge.name, have, deleting=True):
                    await edge.client.delete(SECRETS, have["metadata"]["name"], ens,
                                             uid=have["metadata"]["uid"])
        if pod is None or epod is None:
            return RECENT_TTL if recent else None
        if epod["metadata"].get("deletionTimestamp") or pod["metadata"].get("deletionTimestamp"):
            return None  # going: no new tokens for it
        refresh = await self._write(tenant, edge, pod, ens,
                                    edge.get(SECRETS, ens, pod_secret_name(pod["metadata"]["uid"])),
                                    epod)
        return max(refresh - now(), 1.0)
