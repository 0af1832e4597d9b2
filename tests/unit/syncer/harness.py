"""SyncTest: drive real syncers against in-memory clusters, without a network.

Each cluster is a TenantConn/EdgeConn whose informers are real ``Informer``
objects that are never run: the harness writes into their stores and calls
their handlers, as a watch would. Their client is a ``RecordingClient``: it
records every call and applies writes to the same stores (and emits the
events), so one reconcile's writes feed the next step as in a real cluster.
Tests read ``client.calls`` for what a syncer decided to write.

This is for unit tests of syncer logic; what the API servers really accept is
the integration tests' business.
"""

from __future__ import annotations

import copy
import datetime as dt
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry

from syncer.core.context import SyncContext
from syncer.core.controller import Controller
from syncer.core.keys import WorkKey
from syncer.core.names import edge_namespace
from syncer.core.queue import FairQueue
from syncer.core.recorder import EventRecorder
from syncer.core.syncer import ResourceSyncer
from syncer.fleet.conn import ClusterConn, EdgeConn, TenantConn, WatchSpec
from syncer.fleet.specs import EdgeSpec, parse_tenant_spec
from syncer.kinds import BUILTIN_SYNCERS
from syncer.kube import Obj
from syncer.kube.apis import (
    CONFIGMAPS,
    EVENTS,
    LEASES,
    LIMITRANGES,
    NAMESPACES,
    NETWORKPOLICIES,
    NODES,
    PODS,
    RESOURCEQUOTAS,
    RUNTIMECLASSES,
    SECRETS,
    SERVICES,
    ResourceType,
)
from syncer.kube.client import KubeError
from syncer.kube.informer import Informer
from syncer.kube.store import Store
from syncer.ops.metrics import Metrics
from syncer.placement import Placer

KNOWN = (PODS, CONFIGMAPS, SECRETS, SERVICES, EVENTS, NAMESPACES, NODES, LEASES, RESOURCEQUOTAS,
         LIMITRANGES, NETWORKPOLICIES, RUNTIMECLASSES)
_uids = itertools.count(1)


def _merge(have: Any, patch: Any) -> Any:
    """Merge patch; lists of named dicts merge by name (as strategic merge does for pods)."""
    if isinstance(have, dict) and isinstance(patch, dict):
        out = dict(have)
        for key, value in patch.items():
            if value is None:
                out.pop(key, None)
            else:
                out[key] = _merge(have.get(key), value)
        return out
    if (isinstance(have, list) and isinstance(patch, list) and patch
            and all(isinstance(p, dict) and "name" in p for p in patch)):
        by_name = {p["name"]: p for p in patch}
        merged = [_merge(h, by_name.pop(h.get("name"))) if h.get("name") in by_name else h
                  for h in have]
        return merged + list(by_name.values())
    return copy.deepcopy(patch)


@dataclass
class Call:
    verb: str
    resource: str
    namespace: str
    name: str
    body: Any = None


@dataclass
class RecordingClient:
    """Stands in for a KubeClient: records calls, applies writes to the cluster's stores."""

    name: str
    cluster: ClusterConn | None = None
    calls: list[Call] = field(default_factory=list)
    fail: dict[tuple[str, str], KubeError] = field(default_factory=dict)  # (verb, plural)
    timeout: float = 30.0

    def writes(self, resource: ResourceType | None = None) -> list[Call]:
        return [c for c in self.calls if c.verb != "get" and c.verb != "list"
                and (resource is None or c.resource == resource.plural)]

    def _store(self, rt: ResourceType) -> Informer:
        assert self.cluster is not None
        return self.cluster.informers[rt.plural]

    def _record(self, verb: str, rt: ResourceType, namespace: str | None, name: str,
                body: Any = None) -> None:
        self.calls.append(Call(verb, rt.plural, namespace or "", name, body))
        error = self.fail.get((verb, rt.plural))
        if error is not None:
            raise error

    def _emit(self, rt: ResourceType, old: Obj | None, new: Obj | None) -> None:
        if self.cluster is not None and rt.plural in self.cluster.informers:
            informer = self._store(rt)
            if new is None:
                assert old is not None
                informer.store.remove(old["metadata"].get("namespace", ""),
                                      old["metadata"]["name"])
            else:
                informer.store.upsert(new)
            for handler in informer.handlers:
                handler("DELETED" if new is None else "MODIFIED", old, new)

    def _current(self, rt: ResourceType, namespace: str | None, name: str) -> Obj | None:
        if self.cluster is None or rt.plural not in self.cluster.informers:
            return None
        return self._store(rt).store.get(namespace or "", name)

    async def create(self, rt: ResourceType, obj: Obj, namespace: str | None = None) -> None:
        self._record("create", rt, namespace, obj["metadata"]["name"], obj)
        if self._current(rt, namespace, obj["metadata"]["name"]) is not None:
            raise KubeError(409, "AlreadyExists", f"{rt.plural} {obj['metadata']['name']}")
        new = copy.deepcopy(obj)
        meta = new["metadata"]
        if rt.namespaced:
            meta["namespace"] = namespace or meta.get("namespace", "")
        meta.update(uid=f"uid-{next(_uids)}", resourceVersion=str(next(_uids)),
                    creationTimestamp="2026-01-01T00:00:00Z")
        self._emit(rt, None, new)

    async def get(self, rt: ResourceType, name: str, namespace: str | None = None) -> Obj:
        self._record("get", rt, namespace, name)
        found = self._current(rt, namespace, name)
        if found is None:
            raise KubeError(404, "NotFound", f"{rt.plural} {name} not found")
        return copy.deepcopy(found)

    async def list(self, rt: ResourceType, namespace: str | None = None, **query: Any) -> Obj:
        self._record("list", rt, namespace, "")
        items = list(self._store(rt).store) if self.cluster else []
        return {"items": [copy.deepcopy(i) for i in items]}

    async def replace(self, rt: ResourceType, obj: Obj, subresource: str | None = None) -> None:
        meta = obj["metadata"]
        self._record("replace", rt, meta.get("namespace"), meta["name"], obj)
        old = self._current(rt, meta.get("namespace"), meta["name"])
        new = copy.deepcopy(obj)
        if old is not None:  # the server keeps what it owns
            for owned in ("uid", "creationTimestamp", "namespace"):
                if owned in old["metadata"]:
                    new["metadata"][owned] = old["metadata"][owned]
        new["metadata"]["resourceVersion"] = str(next(_uids))
        self._emit(rt, old, new)

    async def patch(self, rt: ResourceType, name: str, patch: Obj, namespace: str | None = None,
                    subresource: str | None = None, content_type: str = "") -> None:
        verb = f"patch/{subresource}" if subresource else "patch"
        self._record(verb, rt, namespace, name, patch)
        old = self._current(rt, namespace, name)
        if old is None:
            raise KubeError(404, "NotFound", f"{rt.plural} {name} not found")
        self._emit(rt, old, _merge(old, patch))

    async def delete(self, rt: ResourceType, name: str, namespace: str | None = None, *,
                     uid: str | None = None, grace_seconds: int | None = None,
                     propagation: str | None = "Background") -> Obj | None:
        self._record("delete", rt, namespace, name, {"uid": uid, "grace": grace_seconds})
        old = self._current(rt, namespace, name)
        if old is not None and (uid is None or old["metadata"].get("uid") == uid):
            self._emit(rt, old, None)
        return None

    async def request(self, method: str, path: str, *, body: Any = None,
                      **_: Any) -> Any:
        """The pod binding and TokenRequests go through here."""
        parts = path.strip("/").split("/")
        if method == "POST" and parts[-1] == "binding":
            namespace, name = parts[-4], parts[-2]
            self._record("bind", PODS, namespace, name, body)
            old = self._current(PODS, namespace, name)
            assert old is not None
            self._emit(PODS, old, _merge(old, {
                "spec": {"nodeName": body["target"]["name"]},
                "metadata": {"annotations": body["metadata"].get("annotations") or {}}}))
            return None
        if method == "POST" and parts[-1] == "token" and parts[-3] == "serviceaccounts":
            return self._token_request(parts[-4], parts[-2], body)
        raise AssertionError(f"unexpected request {method} {path}")

    def _token_request(self, namespace: str, account: str, body: Obj) -> Obj:
        """A TokenRequest: a new token each time, valid for the seconds asked."""
        self.calls.append(Call("token", "serviceaccounts", namespace, account, body))
        error = self.fail.get(("token", "serviceaccounts"))
        if error is not None:
            raise error
        expires = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=body["spec"]["expirationSeconds"])
        return {"status": {"token": f"{self.name}-token-{next(_uids)}",
                           "expirationTimestamp": expires.strftime("%Y-%m-%dT%H:%M:%SZ")}}

    async def close(self) -> None:
        return None


class SyncTest:
    """A controller with real syncers over in-memory tenant and edge clusters."""

    def __init__(self, syncers: Sequence[type[ResourceSyncer]] = BUILTIN_SYNCERS) -> None:
        self.placer = Placer()
        self.ctx = SyncContext(tenants={}, edges={}, queue=FairQueue(qps=1e6, burst=1e6),
                               recorder=EventRecorder(), placer=self.placer)
        self.controller = Controller(self.ctx, Metrics(CollectorRegistry()), syncers,
                                     listeners=(self.placer,))

    def syncer(self, kind: str) -> ResourceSyncer:
        return self.controller.syncers[kind]

    def _informers(self, conn: ClusterConn, specs: list[WatchSpec], handlers: Any) -> None:
        client = conn.client
        assert isinstance(client, RecordingClient)
        client.cluster = conn
        for spec in specs:
            informer = Informer(client, spec.resource, Store(dict(spec.indexers)))  # type: ignore[arg-type]
            informer.add_handler(handlers(spec))
            informer.synced.set()
            informer.healthy = True
            conn.informers[spec.id] = informer
        for rt in KNOWN:  # kinds nobody watches still get a store, so writes are visible
            if rt.plural not in conn.informers:
                informer = Informer(client, rt, Store())  # type: ignore[arg-type]
                informer.synced.set()
                informer.healthy = True
                conn.informers[rt.plural] = informer

    def add_tenant(self, name: str = "tenant-a", spec: Obj | None = None) -> TenantConn:
        conn = TenantConn(name, "tenant", RecordingClient(name),  # type: ignore[arg-type]
                          uid=f"{name}-uid", spec=parse_tenant_spec(spec or {}))
        self._informers(conn, self.controller.tenant_specs, self.controller.tenant_handlers(conn))
        self.ctx.tenants[name] = conn
        return conn

    def add_edge(self, name: str = "edge-1", region: str = "r1",
                 runtime_handlers: frozenset[str] = frozenset()) -> EdgeConn:
        conn = EdgeConn(name, "edge", RecordingClient(name),  # type: ignore[arg-type]
                        spec=EdgeSpec(region=region, latency_ms={"r1": 5.0},
                                      runtime_handlers=runtime_handlers))
        self.placer.edge_cluster_changed(conn, healthy=True)
        self._informers(conn, self.controller.edge_specs, self.controller.edge_handlers(conn))
        self.ctx.edges[name] = conn
        return conn

    @staticmethod
    def client(conn: ClusterConn) -> RecordingClient:
        assert isinstance(conn.client, RecordingClient)
        return conn.client

    def put(self, conn: ClusterConn, rt: ResourceType, obj: Obj) -> Obj:
        """An object appears or changes in a cluster (as its watch would report)."""
        old = conn.informers[rt.plural].store.get(obj["metadata"].get("namespace", ""),
                                                  obj["metadata"]["name"])
        new = copy.deepcopy(obj)
        new["metadata"].setdefault("uid", f"uid-{next(_uids)}")
        new["metadata"].setdefault("resourceVersion", str(next(_uids)))
        new["metadata"].setdefault("creationTimestamp", "2026-01-01T00:00:00Z")
        self.client(conn)._emit(rt, old, new)
        return new

    def remove(self, conn: ClusterConn, rt: ResourceType, namespace: str, name: str) -> None:
        old = conn.informers[rt.plural].store.get(namespace, name)
        assert old is not None
        self.client(conn)._emit(rt, old, None)

    async def queued(self) -> set[WorkKey]:
        """The keys ready now (taken out of the queue; delayed ones stay behind)."""
        keys: set[WorkKey] = set()
        queue = self.ctx.queue
        while len(queue):
            key = await queue.get()
            queue.done(key)
            keys.add(key)
        return keys

    async def settle(self, rounds: int = 50) -> list[WorkKey]:
        """Reconciles queued keys (and the keys their writes cause) until none is left."""
        done: list[WorkKey] = []
        for _ in range(rounds):
            keys = await self.queued()
            if not keys:
                return done
            for key in sorted(keys):
                await self.controller.process(key)
                done.append(key)
        raise AssertionError(f"not settled after {rounds} rounds")

    def close(self) -> None:
        self.ctx.queue.shutdown()

    @classmethod
    def one_of_each(cls) -> SyncTest:
        """tenant-a with namespace "shop", and edge-1 with one node "n1"."""
        from tests.builders import edge_node, namespace
        sync = cls()
        sync.put(sync.add_tenant(), NAMESPACES, namespace("shop"))
        sync.put(sync.add_edge(), NODES, edge_node("n1"))
        return sync

    def edge_ns(self, namespace: str = "shop", tenant: str = "tenant-a") -> str:
        """The edge namespace of a tenant namespace."""
        return edge_namespace(tenant, self.ctx.tenants[tenant].uid, namespace)
