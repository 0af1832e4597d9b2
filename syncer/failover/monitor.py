"""FailoverMonitor: one task per edge cluster probes it, steps its state, and applies it.

Management ``track``s every EdgeCluster object it reconciles (restoring the
state a previous syncer wrote) and writes ``status`` for it; the pod, node and
copy syncers ask ``admitted``. Each cluster's task is independent: a cut-off
cluster's probe timeouts and pod work never delay another cluster's.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import structlog

from syncer.core import markers
from syncer.core.context import SyncContext
from syncer.core.keys import WorkKey
from syncer.failover.evict import PodEvictor
from syncer.failover.failback import clean_leftovers, ungated
from syncer.failover.state import (
    Reachability,
    conditions,
    from_status,
    readmit,
    rfc3339,
    step,
    to_status,
)
from syncer.fleet.specs import EdgeSpec
from syncer.kube import Obj
from syncer.kube.apis import NODES
from syncer.kube.client import KubeError
from syncer.ops.metrics import Metrics

log = structlog.get_logger(__name__)
PROBE_EVERY, PROBE_TIMEOUT, FAILURES_TO_LOSE = 2.0, 3.0, 2
# A probe that timed out while this process's own event loop computed for this share of the
# wait says more about the process than about the edge: not counted. After a restart with
# 10,000 pods at load 22, list processing stalled the loop 1.3-2 s at a time and every edge
# was declared lost 6 s in (its pods marked unready, then written back).
BUSY_SHARE = 0.25


def probe_inconclusive(timed_out: bool, loop_cpu_s: float, waited_s: float) -> bool:
    """Whether a failed probe should not count against the edge (pure)."""
    return timed_out and waited_s > 0 and loop_cpu_s / waited_s >= BUSY_SHARE


class FailoverMonitor:
    def __init__(self, ctx: SyncContext, metrics: Metrics, *, known: Callable[[str], bool],
                 requeue_all: Callable[[], object], clock: Callable[[], float] = time.time,
                 probe_every: float = PROBE_EVERY, run_tasks: bool = True) -> None:
        self.ctx, self.metrics, self.known = ctx, metrics, known
        self.requeue_all, self.clock, self.probe_every = requeue_all, clock, probe_every
        self.states: dict[str, Reachability] = {}
        self.specs: dict[str, EdgeSpec] = {}
        self.failures: dict[str, int] = {}
        self.evictor = PodEvictor(ctx, metrics)
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self.run_tasks = run_tasks  # False: the caller drives ``tick`` (tests)

    # ---- what the rest of the syncer asks ------------------------------------------------

    def admitted(self, edge: str) -> bool:
        """May fusionvc place pods on and write to ``edge``? An EdgeCluster not looked at or
        not connected yet waits (after a restart, its pods are not "lost" before it was even
        tried); a name with no EdgeCluster object (a removed cluster) is not held back."""
        if not self.known(edge):
            return True
        state = self.states.get(edge)
        return state is not None and state.admitted and edge in self.ctx.edges

    def track(self, name: str, spec: EdgeSpec, status: Obj | None) -> None:
        self.specs[name] = spec
        if name not in self.states:
            self.states[name] = from_status(status)
            if self.run_tasks:
                self._tasks[name] = asyncio.create_task(self._run(name),
                                                        name=f"failover:{name}")

    async def untrack(self, name: str) -> None:
        task = self._tasks.pop(name, None)
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        for table in (self.states, self.specs, self.failures):
            table.pop(name, None)

    def status(self, name: str) -> tuple[tuple[tuple[str, str, str, str], ...], Obj]:
        """(conditions, status fields) for the EdgeCluster's status."""
        state = self.states.get(name, Reachability())
        return conditions(state, name), {"failover": to_status(state)}

    async def stop(self) -> None:
        for name in list(self._tasks):
            await self.untrack(name)

    # ---- one task per edge cluster ----------------------------------------------------------

    async def _run(self, name: str) -> None:
        structlog.contextvars.clear_contextvars()  # not the key of the reconcile that made it
        while True:
            try:
                if self.ctx.is_leader():
                    await self.tick(name)
            except Exception:
                log.exception("failover tick failed", edge=name)
            await asyncio.sleep(self.probe_every)

    async def tick(self, name: str) -> None:
        reachable = await self._probe(name)
        spec, before, now = self.specs[name], self.states[name], self.clock()
        after = step(before, reachable, now, spec.failover)
        if after.failback_due(now, spec.failover):
            after = await self._failback(name, after)
        self._transition(name, before, after)
        if not after.admitted:
            await self.evictor.apply(name, moving=after.moving,
                                     out_of_service=spec.out_of_service and not after.reachable,
                                     since=rfc3339(after.lost_since) or "?")

    async def _probe(self, name: str) -> bool:
        """The edge API server's /readyz within the timeout; lost after repeated failures."""
        edge = self.ctx.edges.get(name)
        ok = timed_out = False
        started, loop_cpu = self.clock(), time.thread_time()
        if edge is not None:
            try:
                await ungated(edge.client).request("GET", "/readyz", timeout=PROBE_TIMEOUT,
                                                   decode=False)
                ok = True
            except KubeError as err:
                timed_out = err.status == 0 and err.reason == "TimeoutError"
                log.debug("edge probe failed", edge=name, error=str(err))
        if probe_inconclusive(timed_out, time.thread_time() - loop_cpu, self.clock() - started):
            log.info("edge probe timed out while this process was busy; not counted", edge=name)
        else:
            self.failures[name] = 0 if ok else self.failures.get(name, 0) + 1
        return ok or self.failures.get(name, 0) < FAILURES_TO_LOSE

    async def _failback(self, name: str, state: Reachability) -> Reachability:
        assert state.lost_since is not None
        try:
            deleted = await clean_leftovers(self.ctx, self.metrics, name, state.lost_since)
        except KubeError as err:
            log.warning("failback: clean-up failed; the cluster stays out for now", edge=name,
                        error=str(err))
            return state
        self.metrics.failover_recovery.labels(name).observe(self.clock() - state.lost_since)
        log.info("failback: edge cluster re-admitted", edge=name, leftovers_deleted=deleted)
        return readmit(state)

    def _transition(self, name: str, before: Reachability, after: Reachability) -> None:
        self.states[name] = after
        if before == after:
            return
        log.info("edge cluster reachability changed", edge=name, phase=after.phase.value,
                 was=before.phase.value)
        self.ctx.queue.add(WorkKey("", "EdgeCluster", "", name))  # status
        if before.admitted and not after.admitted:
            self._requeue_virtual_nodes(name)  # Ready=Unknown now, not at the next heartbeat
        if after.moving and not before.moving:
            self.metrics.failovers.labels(name).inc()
            log.warning("edge cluster lost past its grace period: moving pods", edge=name)
        if after.admitted and not before.admitted:
            self.requeue_all()  # statuses mirrored again, copies skipped meanwhile written

    def _requeue_virtual_nodes(self, edge: str) -> None:
        for tenant in list(self.ctx.tenants.values()):
            if NODES.plural not in tenant.informers:
                continue
            for node in tenant.store(NODES):
                if (node["metadata"].get("labels") or {}).get(markers.EDGE_CLUSTER) == edge:
                    self.ctx.queue.add(WorkKey(tenant.name, "Node", "", node["metadata"]["name"]))
