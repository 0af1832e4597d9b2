"""Informer: list, then watch from the list's resourceVersion, into a Store.

The list is a *watch-list* where the API server serves one (``sendInitialEvents``,
Kubernetes' WatchList): the current objects stream from the server's watch cache as
ADDED events up to a bookmark marked ``k8s.io/initial-events-end``, and the same
stream goes on as the watch. A paginated list is read from etcd: at 10,000 pods it cost
the API servers twice the CPU and etcd a few times more, on the machine the restarted
syncer needs (issue 16, part 5). A server that refuses the request (400/422: an older
version, or the feature gate off) gets paginated lists from then on.

Watches ask for bookmarks so a restart resumes from a recent version; a 410
Gone (the version was compacted away) triggers a fresh list, and the list is
diffed against the cache so deletions missed while away are delivered too.
A dropped connection re-watches with exponential backoff. Handlers are plain
callbacks that must not block: they turn events into work-queue keys.

One network read may hold hundreds of buffered events (a whole list page, or a
rollout's worth of watch events after a busy moment): the informer hands the loop
back every ``SLICE_S`` of processing, so no informer holds the event loop for long
(a loop stuck for seconds lets the leader Lease expire).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import structlog

from syncer.kube import Obj
from syncer.kube.apis import ResourceType
from syncer.kube.client import KubeClient, KubeError
from syncer.kube.compact import DEFAULT as COMPACTOR
from syncer.kube.compact import typed_kind
from syncer.kube.store import Store, key_of

log = structlog.get_logger(__name__)
compact = COMPACTOR.compact  # every cached object is stored compacted (and read-only)
INITIAL_EVENTS_END = "k8s.io/initial-events-end"  # the bookmark annotation ending them
SLICE_S = 0.02  # processing between two hand-backs of the event loop
Handler = Callable[[str, Obj | None, Obj | None], None]  # (event type, old, new)

# Small pages: each page is parsed whole before it is compacted, and a large transient
# page between long-lived objects leaves the allocator's arenas fragmented (500 per page
# cost 19 MiB more RSS on a restart with 2,000 pods).
LIST_PAGE = 100


@dataclass
class Informer:
    client: KubeClient
    resource: ResourceType
    store: Store
    label_selector: str | None = None
    field_selector: str | None = None
    namespace: str | None = None
    handlers: list[Handler] = field(default_factory=list)
    on_relist: Callable[[], None] | None = None
    on_watch_restart: Callable[[], None] | None = None
    max_backoff: float = 30.0
    watch_list: bool = True  # list by watch-list while the server serves them

    def __post_init__(self) -> None:
        self.synced = asyncio.Event()
        self.healthy = False
        self.last_error: str = ""
        self._last: Obj | None = None  # the last object compacted, like a new one
        self._rv = ""
        self._relisted = False  # the current watch-list delivered its initial events
        self._typed = typed_kind(self.resource.group)  # compact.py: no JSON type check

    def add_handler(self, handler: Handler) -> None:
        self.handlers.append(handler)

    def _emit(self, kind: str, old: Obj | None, new: Obj | None) -> None:
        for handler in self.handlers:
            try:
                handler(kind, old, new)
            except Exception:  # a faulty handler must not stop the informer
                log.exception("informer handler failed", resource=self.resource.plural)

    async def run(self) -> None:
        """Runs until cancelled."""
        backoff = 0.5
        need_list = True
        while True:
            try:
                if need_list and self.watch_list:
                    self._relisted = False
                    try:
                        if await self._stream_list():
                            backoff = 0.5
                            continue
                    finally:  # synced, then broken: resume by watch, not another list
                        need_list = not self._relisted
                if need_list:
                    await self._list()
                    need_list = False
                await self._watch()
                backoff = 0.5
            except KubeError as err:
                self.healthy = False
                self.last_error = str(err)
                if err.gone:
                    need_list = True
                    continue
                if err.status == 0 or err.status >= 500 or err.status == 429:
                    self._note_restart()
                else:
                    need_list = True
                log.warning("watch failed; retrying", cluster=self.client.name,
                            resource=self.resource.plural, error=str(err), retry_in=backoff)
                await asyncio.sleep(backoff * (0.5 + random.random()))
                backoff = min(backoff * 2, self.max_backoff)

    def _note_restart(self) -> None:
        if self.on_watch_restart:
            self.on_watch_restart()

    def _query(self) -> dict[str, Any]:
        return {"labelSelector": self.label_selector, "fieldSelector": self.field_selector}

    async def _list(self) -> None:
        items: list[Obj] = []
        cont: str | None = None
        while True:
            page = await self.client.list(self.resource, self.namespace, limit=LIST_PAGE,
                                          **{"continue": cont}, **self._query())
            for obj in page.get("items", []):
                items.append(self._compacted(obj))
            cont = page["metadata"].get("continue")
            if not cont:
                break
        self._rv = page["metadata"]["resourceVersion"]
        await self._replace(items)
        self._listed()

    async def _stream_list(self) -> bool:
        """The list as a watch-list, then its watch until the server ends it; False when
        the server does not serve watch-lists (then never asked again)."""
        items: list[Obj] | None = []
        timeout = random.randint(300, 600)
        slice_end = time.monotonic() + SLICE_S
        events = self.client.watch(
            self.resource, "", namespace=self.namespace, timeout_seconds=timeout,
            read_timeout=timeout + 30, on_connected=self._connected, sendInitialEvents=True,
            resourceVersionMatch="NotOlderThan", **self._query())
        try:
            async for event in events:
                if items is None:
                    self._apply(event)
                elif event.get("type") == "ADDED":
                    items.append(self._compacted(event["object"]))
                elif _initial_events_end(event):
                    self._rv = event["object"]["metadata"]["resourceVersion"]
                    await self._replace(items)
                    items = None
                    self._listed()
                elif event.get("type") == "ERROR":
                    self._apply(event)  # raises
                if time.monotonic() > slice_end:
                    await asyncio.sleep(0)
                    slice_end = time.monotonic() + SLICE_S
        except KubeError as err:
            if items is None or err.status not in (400, 422):
                raise
            log.info("watch-list not served; listing in pages", cluster=self.client.name,
                     resource=self.resource.plural, error=str(err))
            self.watch_list = False
            return False
        if items is not None:
            raise KubeError(0, "", "the watch-list ended before its initial events did")
        self._note_restart()
        return True

    def _listed(self) -> None:
        self._relisted = True
        if self.on_relist:
            self.on_relist()
        self.healthy = True
        self.synced.set()

    async def _replace(self, items: list[Obj]) -> None:
        seen = set()
        slice_end = time.monotonic() + SLICE_S
        for obj in items:
            if time.monotonic() > slice_end:
                await asyncio.sleep(0)
                slice_end = time.monotonic() + SLICE_S
            seen.add(key_of(obj))
            old = self.store.upsert(obj)
            if old is None:
                self._emit("ADDED", None, obj)
            elif old["metadata"].get("resourceVersion") != obj["metadata"].get("resourceVersion"):
                self._emit("MODIFIED", old, obj)
        for key in self.store.list_keys():
            if key not in seen:
                gone = self.store.remove(*key)
                self._emit("DELETED", gone, None)

    async def _watch(self) -> None:
        timeout = random.randint(300, 600)
        slice_end = time.monotonic() + SLICE_S
        async for event in self.client.watch(self.resource, self._rv, namespace=self.namespace,
                                             timeout_seconds=timeout, read_timeout=timeout + 30,
                                             on_connected=self._connected, **self._query()):
            self._apply(event)
            if time.monotonic() > slice_end:
                await asyncio.sleep(0)
                slice_end = time.monotonic() + SLICE_S
        self._note_restart()

    def _compacted(self, obj: Obj) -> Obj:
        """The object compacted like its cached version or, for a new one, like the last
        object compacted: a list gives a ReplicaSet's pods one after another, a rollout
        creates them so (compact.py: equal parts are compared in C, not walked)."""
        cached = self.store.get(*key_of(obj))
        if cached is not None:
            self._last = compact(obj, cached, same_object=True)
        else:
            self._last = compact(obj, self._last, typed=self._typed)
        return self._last

    def _connected(self) -> None:
        self.healthy, self.last_error = True, ""

    def _apply(self, event: Obj) -> None:
        kind, obj = event.get("type"), event.get("object") or {}
        if kind == "ERROR":
            raise KubeError(int(obj.get("code", 0)), obj.get("reason", ""), obj.get("message", ""))
        rv = obj.get("metadata", {}).get("resourceVersion")
        if rv:
            self._rv = rv
        if kind == "BOOKMARK":
            return
        if kind == "DELETED":
            old = self.store.remove(*key_of(obj))
            self._emit("DELETED", old or compact(obj), None)
        else:
            obj = self._compacted(obj)
            old = self.store.upsert(obj)
            self._emit("MODIFIED" if old is not None else "ADDED", old, obj)


def _initial_events_end(event: Obj) -> bool:
    """The bookmark that ends a watch-list's initial events."""
    if event.get("type") != "BOOKMARK":
        return False
    annotations = (event.get("object") or {}).get("metadata", {}).get("annotations") or {}
    return bool(annotations.get(INITIAL_EVENTS_END) == "true")
