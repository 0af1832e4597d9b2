"""Cold restart of the syncer for two checkouts of fusionvc, side by side (issue 16, part 5).

On a sandbox that holds the pods already (restart_bench.py fills one: `--sizes 10000`),
with its own syncer stopped for the duration: for each round and each arm, starts the
syncer from the arm's checkout (its own .venv, the sandbox's flags, as syncer_ab.py
does), and prints the time from the start of the process to /readyz answering 200 while
it leads, the process's CPU seconds by then, and its RSS --settle seconds later; then
stops it (SIGTERM). Rounds alternate the order of the arms, so both see the same
machine; the medians and the ratios to the first arm end the output. Each checkout is
byte-compiled first, as an installed package is.

    PYTHONPATH=.:hack/bench .venv/bin/python hack/bench/restart_ab.py \\
        --state-dir .sandbox-big --arm before=/path/to/main --arm after=. --rounds 4
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from pathlib import Path
from typing import Any

from common import REPO, cpu_seconds, rss_kib, sandbox_status
from syncer_ab import Arm, alternate, medians_of, parse_arm, start_syncer
from syncer_scrape import leading_and_ready

from hack.sandbox_lib.sandbox import byte_compile

KEYS = ("ready_s", "cpu_s_to_ready", "rss_mib")


async def one_run(state_dir: Path, url: str, arm: Arm,
                  settle: float) -> dict[str, Any]:
    label = arm[0]
    started = time.perf_counter()
    proc = start_syncer(state_dir, arm, url)
    try:
        while not await asyncio.to_thread(leading_and_ready, url):
            if proc.poll() is not None:
                raise SystemExit(f"the {label} syncer exited ({proc.returncode})")
            if time.perf_counter() - started > 300:
                raise SystemExit(f"the {label} syncer was not ready in 300 s")
            await asyncio.sleep(0.1)
        wall, cpu = time.perf_counter() - started, cpu_seconds(proc.pid)
        await asyncio.sleep(settle)
        rss = rss_kib(proc.pid) / 1024
    finally:
        proc.terminate()
        proc.wait(30)
    return {"arm": label, "ready_s": round(wall, 2), "cpu_s_to_ready": round(cpu, 2),
            "rss_mib": round(rss, 1), "load": round(os.getloadavg()[0], 1)}


async def main_async(args: argparse.Namespace) -> None:
    state_dir = args.state_dir.resolve()
    arms = [parse_arm(a) for a in args.arm]
    for _, checkout, _ in arms:
        byte_compile(checkout)
    url = str(sandbox_status(str(state_dir))["syncer"]["metrics"])
    async def run(arm: Arm) -> dict[str, Any]:
        await asyncio.sleep(2)  # the last one's connections closed
        return await one_run(state_dir, url, arm, args.settle)

    runs = await alternate(state_dir, arms, args.rounds, run)
    medians = medians_of(runs, arms, KEYS, 2)
    first, *others = [label for label, _, _ in arms]
    ratios = {f"{o}/{first} {k}": round(medians[o][k] / medians[first][k], 3)
              for o in others for k in KEYS}
    print(json.dumps({"medians": medians, **ratios}, indent=1))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--arm", action="append", required=True,
                        help="label=CHECKOUT[@KEY=VAL,...]; give two or more")
    parser.add_argument("--rounds", type=int, default=4, help="restarts of each arm")
    parser.add_argument("--settle", type=float, default=10.0,
                        help="seconds after ready before the RSS is read")
    parser.add_argument("--state-dir", type=Path, default=REPO / ".sandbox")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
