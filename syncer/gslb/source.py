"""The table's inputs, watched on the management cluster; the table recompiled on change.

Every change marks the table stale; one task recompiles it at most every
``debounce`` seconds, so a burst of record updates costs one compilation. While the
management cluster is unreachable the informers keep their last objects, so the last
table keeps being served.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import orjson
import structlog

from syncer.gslb.model import RECORD_KEY, RECORD_LABEL, Table, compile_table
from syncer.kube import Obj
from syncer.kube.apis import CONFIGMAPS, EDGECLUSTERS, TENANTS, USERREGIONS
from syncer.kube.client import KubeClient
from syncer.kube.informer import Informer
from syncer.kube.store import Store

log = structlog.get_logger(__name__)


def record_of(configmap: Obj) -> Obj | None:
    raw = (configmap.get("data") or {}).get(RECORD_KEY)
    try:
        record = orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError:
        return None
    return record if isinstance(record, dict) else None


class TableSource:
    def __init__(self, client: KubeClient, namespace: str,
                 on_table: Callable[[Table, float], None],
                 debounce: float = 0.05) -> None:
        self.on_table, self.debounce = on_table, debounce
        self.informers = {
            "records": Informer(client, CONFIGMAPS, Store(), namespace=namespace,
                                label_selector=f"{RECORD_LABEL}=true"),
            "edges": Informer(client, EDGECLUSTERS, Store()),
            "regions": Informer(client, USERREGIONS, Store()),
            "tenants": Informer(client, TENANTS, Store()),
        }
        self._stale = asyncio.Event()
        self._serial = 0
        for informer in self.informers.values():
            informer.add_handler(lambda _t, _o, _n: self._stale.set())
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def synced(self) -> bool:
        return all(i.synced.is_set() for i in self.informers.values())

    def compile(self) -> Table:
        records = [r for cm in self.informers["records"].store if (r := record_of(cm))]
        self._serial = max(self._serial + 1, int(time.time()))
        return compile_table(records, list(self.informers["edges"].store),
                             list(self.informers["regions"].store),
                             list(self.informers["tenants"].store), serial=self._serial)

    async def _recompile_loop(self) -> None:
        while True:
            await self._stale.wait()
            await asyncio.sleep(self.debounce)
            self._stale.clear()
            if not self.synced:
                self._stale.set()
                await asyncio.sleep(0.2)
                continue
            started = time.perf_counter()
            table = self.compile()
            seconds = time.perf_counter() - started
            self.on_table(table, seconds)
            log.info("table compiled", hosts=len(table.hosts), zones=len(table.zones),
                     serial=table.serial, ms=round(seconds * 1000, 1))

    def start(self) -> None:
        for name, informer in self.informers.items():
            self._tasks.append(asyncio.create_task(informer.run(), name=f"gslb-informer:{name}"))
        self._tasks.append(asyncio.create_task(self._recompile_loop(), name="gslb-compile"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
