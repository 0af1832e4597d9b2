"""CPU per pod of fusionvc's processes on asyncio's loop and on uvloop, side by side.

On the running sandbox with its syncer (`hack/sandbox up --with-syncer`): for each
round and each loop, restarts the syncer and the edge DNS servers with
FUSIONVC_EVENT_LOOP set, then runs fair_throughput.py's fusionvc phase (two tenants,
a Deployment of N replicas each). Rounds alternate the order of the loops, so both
see the same machine. Prints each run and the medians: syncer and edge DNS CPU ms per
pod (from /proc/<pid>/stat), pods/s, and the load average.

    PYTHONPATH=.:hack/bench .venv/bin/python hack/bench/event_loop_cost.py --pods 300
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
from pathlib import Path
from typing import Any

from common import REPO, live_processes
from fair_throughput import Run, sandbox_verb
from syncer_throughput import clients

LOOPS = ("asyncio", "uvloop")
RESTARTED = ("syncer", "-dns")  # the syncer and every edge's DNS server (edge-xx-dns)


async def restart_with(state_dir: Path, loop: str) -> None:
    os.environ["FUSIONVC_EVENT_LOOP"] = loop  # inherited by what hack/sandbox starts
    names = [n for n, _ in live_processes(str(state_dir))
             if n == RESTARTED[0] or n.endswith(RESTARTED[1])]
    for name in names:
        await sandbox_verb(state_dir, "stop", name)
        await sandbox_verb(state_dir, "start", name)
    await asyncio.sleep(10)  # the syncer lists every cluster before it works


async def one_run(state_dir: Path, pods: int, loop: str) -> dict[str, Any]:
    await restart_with(state_dir, loop)
    run = Run(state_dir, pods, split=False)
    run.cl = await clients(run.status)
    try:
        figures, _ = await run.fusionvc_phase()
    finally:
        for c in run.cl.values():
            await c.close()
    cpu = figures["cpu ms"]
    return {"loop": loop, "pods_per_s": figures["pods_per_s"], "syncer": cpu["syncer"],
            "edge dns": cpu.get("edge dns", 0.0), "load": round(figures["load_average"][0], 1)}


async def main_async(args: argparse.Namespace) -> None:
    runs: list[dict[str, Any]] = []
    for i in range(args.rounds):
        for loop in (LOOPS if i % 2 == 0 else LOOPS[::-1]):
            runs.append(await one_run(args.state_dir.resolve(), args.pods, loop))
            print(json.dumps(runs[-1]), flush=True)
    os.environ.pop("FUSIONVC_EVENT_LOOP", None)
    await restart_with(args.state_dir.resolve(), "auto")
    summary: dict[str, Any] = {}
    for loop in LOOPS:
        mine = [r for r in runs if r["loop"] == loop]
        summary[loop] = {k: round(statistics.median(r[k] for r in mine), 3)
                         for k in ("syncer", "edge dns", "pods_per_s", "load")}
    summary["uvloop/asyncio syncer CPU per pod"] = round(
        summary["uvloop"]["syncer"] / summary["asyncio"]["syncer"], 3)
    summary["uvloop/asyncio edge DNS CPU per pod"] = round(
        summary["uvloop"]["edge dns"] / max(summary["asyncio"]["edge dns"], 1e-9), 3)
    print(json.dumps({"pods": 2 * args.pods, "medians": summary}, indent=1))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--pods", type=int, default=300, help="replicas per tenant")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each loop")
    parser.add_argument("--state-dir", type=Path, default=REPO / ".sandbox")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
