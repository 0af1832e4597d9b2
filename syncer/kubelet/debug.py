"""``kubectl debug``: ephemeral containers a tenant adds, copied to the running edge pod.

The pod syncer calls :meth:`EphemeralContainers.sync` while updating a running
pod. Ephemeral containers the edge copy lacks are checked one by one with the
same isolation rules as any container (syncer/core/isolation.py): a container
that passes is taken as the pod translation made it (no token, env rewritten) and
written through the edge pod's ``ephemeralcontainers`` subresource; one that
fails gets a Warning Event ``EphemeralContainerRefused`` on the tenant pod
(once per container) and the edge pod is left untouched. ``kubectl attach`` then
reaches an accepted one through the kubelet endpoint like any container.
"""

from __future__ import annotations

from cachetools import TTLCache

from syncer.core.isolation import IsolationPolicy, check_pod, describe
from syncer.core.recorder import EventRecorder
from syncer.fleet.conn import EdgeConn, TenantConn
from syncer.kube import Obj
from syncer.kube.apis import PODS
from syncer.kube.client import STRATEGIC_PATCH

REFUSED_REASON = "EphemeralContainerRefused"


def missing_on_edge(tenant_pod: Obj, edge_pod: Obj) -> list[Obj]:
    """The tenant pod's ephemeral containers that the edge copy does not have yet."""
    have = {c.get("name") for c in edge_pod.get("spec", {}).get("ephemeralContainers") or []}
    return [c for c in tenant_pod.get("spec", {}).get("ephemeralContainers") or []
            if c.get("name") not in have]


def refusal(tenant_pod: Obj, container: Obj, policy: IsolationPolicy) -> str:
    """Why this ephemeral container may not run ("" when it may): only its own violations."""
    spec = tenant_pod.get("spec") or {}
    alone = {**tenant_pod, "spec": {**spec, "ephemeralContainers": [container]}}
    without = {**tenant_pod, "spec": {**spec, "ephemeralContainers": []}}
    before = set(check_pod(without, policy))
    found = [v for v in check_pod(alone, policy) if v not in before]
    return describe(found).replace("spec.ephemeralContainers[0]",
                                   f"spec.ephemeralContainers[{container.get('name')}]")


def translated(desired_edge_pod: Obj, names: set[str]) -> list[Obj]:
    """The named ephemeral containers as the pod translation made them for the edge."""
    return [c for c in desired_edge_pod["spec"].get("ephemeralContainers") or []
            if c.get("name") in names]


class EphemeralContainers:
    """Copies accepted ephemeral containers down; remembers refusals it already reported."""

    def __init__(self, recorder: EventRecorder) -> None:
        self.recorder = recorder
        self._reported: TTLCache[tuple[str, str, str], bool] = TTLCache(maxsize=10_000,
                                                                         ttl=3600)

    async def sync(self, tenant: TenantConn, tenant_pod: Obj, edge: EdgeConn, edge_pod: Obj,
                   desired_edge_pod: Obj) -> None:
        """``desired_edge_pod``: translate_pod_down of the tenant pod (no token, env rewritten)."""
        accepted = []
        for container in missing_on_edge(tenant_pod, edge_pod):
            reason = refusal(tenant_pod, container, tenant.isolation)
            if not reason:
                accepted.append(container)
                continue
            key = (tenant.name, tenant_pod["metadata"].get("uid", ""), container.get("name", ""))
            if key not in self._reported:
                self._reported[key] = True
                await self.recorder.warn(tenant.client, {"kind": "Pod", **tenant_pod},
                                         REFUSED_REASON, f"ephemeral container "
                                         f"{container.get('name')!r} refused: {reason}")
        if not accepted:
            return
        names = {c.get("name", "") for c in accepted}
        patch = {"spec": {"ephemeralContainers": translated(desired_edge_pod, names)}}
        meta = edge_pod["metadata"]
        await edge.client.patch(PODS, meta["name"], patch, namespace=meta["namespace"],
                                subresource="ephemeralcontainers", content_type=STRATEGIC_PATCH)
