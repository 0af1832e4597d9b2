"""NodeWorkSyncer: the shape shared by the tenant kinds that run one edge Job per node
(ImagePrewarm, EdgeDataset).

Owns how their events become work keys (spec or deletion changes of the tenant
object; the kind's own Jobs on the edges, told apart by ``work_label``), the
drift scan, finding an object's Jobs through the kind's own index, and telling
the tenant about a spec fusionvc cannot act on (status and a Warning Event).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from syncer.core import markers
from syncer.core.keys import WorkKey
from syncer.core.syncer import ResourceSyncer
from syncer.fleet.conn import EdgeConn, TenantConn, WatchSpec
from syncer.kinds.edge_targets import write_status
from syncer.kube import Obj
from syncer.kube.apis import JOBS, ResourceType

NO_TARGET_RETRY = 30.0  # no target node yet: nodes may join, look again


def work_index(label: str) -> Callable[[Obj], list[str]]:
    """The tenant-key index ("<tenant>/<namespace>/<name>") of the Jobs carrying ``label``."""
    def index(job: Obj) -> list[str]:
        if label not in (job["metadata"].get("labels") or {}):
            return []
        return markers.tenant_key_index(job)
    return index


def job_watch(label: str, index: str) -> WatchSpec:
    return WatchSpec(JOBS, markers.MANAGED_SELECTOR, ((index, work_index(label)),))


class NodeWorkSyncer(ResourceSyncer):
    resource: ResourceType  # the tenant kind
    work_label: str  # the label on the kind's Jobs (value: the object's name)
    index: str  # the name of the kind's index of Jobs

    def tenant_event(self, tenant: TenantConn, watch: str, old: Obj | None,
                     new: Obj | None) -> Iterable[WorkKey]:
        obj = new or old
        assert obj is not None
        if old is not None and new is not None and old.get("spec") == new.get("spec") \
                and old["metadata"].get("deletionTimestamp") == \
                new["metadata"].get("deletionTimestamp"):
            return ()  # its status, written by fusionvc
        return (WorkKey(tenant.name, self.kind, obj["metadata"]["namespace"],
                        obj["metadata"]["name"]),)

    def edge_event(self, edge: EdgeConn, watch: str, old: Obj | None,
                   new: Obj | None) -> Iterable[WorkKey]:
        obj = new or old
        assert obj is not None
        if self.work_label not in (obj["metadata"].get("labels") or {}):
            return ()  # another kind's Job
        return self.marked_key(obj)

    def scan(self, tenant: TenantConn) -> Iterable[WorkKey]:
        keys = {WorkKey(tenant.name, self.kind, o["metadata"]["namespace"], o["metadata"]["name"])
                for o in tenant.store(self.resource)}
        for edge in self.ctx.edges.values():
            for value in edge.store(JOBS).index_values(self.index):
                owner, ns, name = value.split("/", 2)
                if owner == tenant.name:
                    keys.add(WorkKey(tenant.name, self.kind, ns, name))
        return keys

    def jobs(self, tenant: TenantConn, key: WorkKey) -> list[tuple[EdgeConn, Obj]]:
        value = f"{tenant.name}/{key.namespace}/{key.name}"
        return [(edge, job) for edge in self.ctx.edges.values() if edge.synced
                for job in edge.store(JOBS).by_index(self.index, value)]

    async def invalid_spec(self, tenant: TenantConn, obj: Obj, err: Exception) -> None:
        await write_status(tenant, self.resource, obj, {"phase": "Failed", "message": str(err)})
        await self.ctx.recorder.warn(tenant.client, {"kind": self.kind, **obj},
                                     "InvalidSpec", str(err))
