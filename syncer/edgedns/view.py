"""EdgeView: informers on this edge's own API server, and the tables rebuilt from them.

Four informers (syncer/kube/informer.py): fusionvc's namespaces, Services and
pods (by the managed-by label), and every EndpointSlice (the controller-manager
writes them, without fusionvc's labels; build_tables keeps only those in
fusionvc's namespaces). Any event but a pod's marks the tables stale; one task
rebuilds them at most every ``debounce`` seconds and hands them to ``on_tables``.
Pod events only change that pod's addresses in the live PodAddresses the tables
share (edgedns/pod_ips.py): pods are the many, fast-changing objects. The
view never talks to the management or tenant clusters: when the centre is
gone, answers stay as they were.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import structlog

from syncer.core import markers
from syncer.edgedns.pod_ips import PodAddresses
from syncer.edgedns.tables import Tables, build_tables, edge_namespace_owners
from syncer.kube import Obj
from syncer.kube.apis import NAMESPACES, PODS, SERVICES, ResourceType
from syncer.kube.client import KubeClient
from syncer.kube.informer import Informer
from syncer.kube.store import Store

log = structlog.get_logger(__name__)
ENDPOINTSLICES = ResourceType("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice")
WATCHED: tuple[tuple[ResourceType, str | None], ...] = (
    (NAMESPACES, markers.MANAGED_SELECTOR),
    (SERVICES, markers.MANAGED_SELECTOR),
    (ENDPOINTSLICES, None),
    (PODS, markers.MANAGED_SELECTOR),
)


class EdgeView:
    def __init__(self, client: KubeClient, domain: str, on_tables: Callable[[Tables], None],
                 debounce: float = 0.05) -> None:
        self.client = client
        self.domain = domain
        self.on_tables = on_tables
        self.debounce = debounce
        self.informers = {rt.plural: Informer(client, rt, Store(), label_selector=selector)
                          for rt, selector in WATCHED}
        self._stale = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.rebuilds = 0
        self.pods = PodAddresses()
        self._owners: dict[str, tuple[str, str]] = {}
        self._owners_stale = True
        for plural, informer in self.informers.items():
            if plural == PODS.plural:
                informer.add_handler(self._pod_changed)
            elif plural == NAMESPACES.plural:
                informer.add_handler(self._namespace_changed)
            else:
                informer.add_handler(self._changed)

    def _changed(self, _kind: str, _old: Any, _new: Any) -> None:
        self._stale.set()

    def _pod_changed(self, _kind: str, old: Obj | None, new: Obj | None) -> None:
        self.pods.changed(self._owners, old, new)

    def _namespace_changed(self, _kind: str, _old: Any, _new: Any) -> None:
        self._owners_stale = True  # the next rebuild recomputes every pod's addresses
        self._stale.set()

    @property
    def synced(self) -> bool:
        return all(i.synced.is_set() for i in self.informers.values())

    def start(self) -> None:
        for plural, informer in self.informers.items():
            self._tasks.append(asyncio.create_task(informer.run(), name=f"informer:{plural}"))
        self._tasks.append(asyncio.create_task(self._rebuild_loop(), name="edgedns:rebuild"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    def build(self) -> Tables:
        stores = {plural: i.store for plural, i in self.informers.items()}
        if self._owners_stale:
            self._owners_stale = False
            self._owners = edge_namespace_owners(stores["namespaces"])
            self.pods.rebuild(self._owners, stores["pods"])
        tables = build_tables(self.domain, stores["namespaces"], stores["services"],
                              stores["endpointslices"], ())
        tables.pod_tenant = self.pods.tenant_of  # live: pod events change it in place
        return tables

    async def _rebuild_loop(self) -> None:
        await asyncio.gather(*(i.synced.wait() for i in self.informers.values()))
        while True:
            self._stale.clear()
            tables = self.build()
            self.rebuilds += 1
            self.on_tables(tables)
            log.debug("tables rebuilt", tenants=len(tables.tenants), pods=len(tables.pod_tenant))
            await self._stale.wait()
            await asyncio.sleep(self.debounce)
