"""Connections to every tenant and edge cluster, and the informers each one runs.

A ClusterConn owns one KubeClient and one informer per watched resource; its
tasks are started and cancelled together. Which resources are watched, with
which indexes, is declared by the registered resource syncers (WatchSpec), so
adding a resource never means editing this module.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import structlog

from scheduler import SchedulingPolicy
from syncer.core.isolation import IsolationPolicy
from syncer.edgedns.pod_dns import EdgeDNS
from syncer.fleet.registries import RegistryAuths
from syncer.fleet.specs import EdgeSpec, TenantSpec
from syncer.kube import Obj
from syncer.kube.apis import ResourceType
from syncer.kube.client import KubeClient
from syncer.kube.informer import Handler, Informer
from syncer.kube.store import IndexFunc, Store

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class WatchSpec:
    """One resource a cluster role watches; indexes are merged across syncers."""

    resource: ResourceType
    label_selector: str | None = None
    indexers: tuple[tuple[str, IndexFunc], ...] = ()

    @property
    def id(self) -> str:
        return self.resource.plural


@dataclass
class ClusterConn:
    name: str
    role: str
    client: KubeClient
    informers: dict[str, Informer] = field(default_factory=dict)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    # How many informers were all synced when last checked: synced is asked before every
    # reconcile, for the tenant and every edge, and an informer never becomes unsynced.
    _synced_count: int = field(default=-1, repr=False)

    def store(self, resource: ResourceType) -> Store:
        return self.informers[resource.plural].store

    def get(self, resource: ResourceType, namespace: str, name: str) -> Obj | None:
        return self.store(resource).get(namespace, name)

    @property
    def synced(self) -> bool:
        if self._synced_count == len(self.informers):
            return True
        if all(i.synced.is_set() for i in self.informers.values()):
            self._synced_count = len(self.informers)
            return True
        return False

    @property
    def healthy(self) -> bool:
        return bool(self.informers) and all(i.healthy for i in self.informers.values())

    def last_error(self) -> str:
        return next((i.last_error for i in self.informers.values() if not i.healthy), "")

    def start(self, specs: list[WatchSpec], handler_for: Callable[[WatchSpec], Handler],
              on_relist: Callable[[str], None], on_restart: Callable[[str], None]) -> None:
        for spec in specs:
            informer = Informer(self.client, spec.resource, Store(dict(spec.indexers)),
                                label_selector=spec.label_selector,
                                on_relist=functools.partial(on_relist, spec.id),
                                on_watch_restart=functools.partial(on_restart, spec.id))
            informer.add_handler(handler_for(spec))
            self.informers[spec.id] = informer
        for spec_id, informer in self.informers.items():
            self.tasks.append(asyncio.create_task(informer.run(),
                                                  name=f"informer:{self.name}:{spec_id}"))

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        self.tasks.clear()
        await self.client.close()


@dataclass
class TenantConn(ClusterConn):
    uid: str = ""
    spec: TenantSpec = field(default_factory=TenantSpec)
    scheduling: SchedulingPolicy | None = None  # the last valid policy; None: the default
    # spec.registries resolved by Management (fleet/registries.py); never printed.
    registry_auths: RegistryAuths = field(default_factory=RegistryAuths, repr=False)

    @property
    def isolation(self) -> IsolationPolicy:
        return self.spec.isolation


@dataclass
class EdgeConn(ClusterConn):
    spec: EdgeSpec = field(default_factory=EdgeSpec)

    @property
    def region(self) -> str:
        return self.spec.region

    @property
    def latency_ms(self) -> Mapping[str, float]:
        return self.spec.latency_ms

    @property
    def unschedulable(self) -> bool:
        return self.spec.unschedulable

    @property
    def entrance(self) -> tuple[tuple[str, str], ...]:
        """(address, carrier) where users reach services on this cluster (GSLB)."""
        return self.spec.entrance

    def dns_for(self, tenant: str) -> EdgeDNS | None:
        """The edge DNS that tenant's pods here use (None: the edge cluster's own DNS)."""
        address = self.spec.dns_nameservers.get(tenant)
        return EdgeDNS(address, self.spec.cluster_domain) if address else None


def merge_specs(specs: list[WatchSpec]) -> list[WatchSpec]:
    """One informer per resource: indexes of all syncers merged, selectors must agree."""
    merged: dict[str, WatchSpec] = {}
    for spec in specs:
        have = merged.get(spec.id)
        if have is None:
            merged[spec.id] = spec
            continue
        if have.label_selector != spec.label_selector:
            raise ValueError(f"conflicting label selectors for {spec.id}: "
                             f"{have.label_selector!r} vs {spec.label_selector!r}")
        merged[spec.id] = WatchSpec(have.resource, have.label_selector,
                                    have.indexers + spec.indexers)
    return list(merged.values())
