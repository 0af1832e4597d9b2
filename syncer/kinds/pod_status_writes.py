"""The tenant status write of an edge pod's status, made once per edge status.

A pod's key is often reconciled again moments after fusionvc wrote its status: its
binding's tenant event was queued meanwhile. The tenant cache does not show the
status write yet, so the same patch was computed, and written, a second time (issue
16: about 1% of pods in a 600-pod rollout). ``StatusWrites`` remembers, per tenant
pod, the edge pod version whose status it wrote and the patch, and skips the very
same patch for the same edge version. Anything else is written as before: a new edge
status, a tenant status that differs otherwise, a condition fusionvc adds itself.
The memory of a pod ends when the tenant cache shows the status (nothing to write),
and after ``TTL_S`` at most, so a status the tenant changed by hand meanwhile is
put right by the next event or drift scan.
"""

from __future__ import annotations

from cachetools import TTLCache

from syncer.core.conditions import now_rfc3339
from syncer.fleet.conn import TenantConn
from syncer.kinds.pod_status import mirrored_status_patch
from syncer.kube import Obj
from syncer.kube.apis import PODS

TTL_S = 30.0


class StatusWrites:
    def __init__(self, maxsize: int = 50_000, ttl: float = TTL_S) -> None:
        # tenant pod UID -> (edge pod resourceVersion, the status patch written for it)
        self._written: TTLCache[str, tuple[str, Obj]] = TTLCache(maxsize=maxsize, ttl=ttl)

    def already_written(self, uid: str, edge_version: str, patch: Obj) -> bool:
        return self._written.get(uid) == (edge_version, patch)

    async def mirror(self, tenant: TenantConn, tpod: Obj, epod: Obj,
                     extra: Obj | None = None) -> None:
        """The edge status up; ``extra`` is one more condition fusionvc reports itself."""
        meta = tpod["metadata"]
        patch = mirrored_status_patch(tpod, epod, extra, now_rfc3339())
        if patch is None:
            self._written.pop(meta["uid"], None)  # the tenant shows it: nothing to remember
            return
        edge_version = epod["metadata"].get("resourceVersion", "")
        if edge_version and self.already_written(meta["uid"], edge_version, patch):
            return  # written moments ago; the tenant cache does not show it yet
        await tenant.client.patch(PODS, meta["name"], {"status": patch},
                                  namespace=meta["namespace"], subresource="status")
        if edge_version:
            self._written[meta["uid"]] = (edge_version, patch)
