"""The syncer's CPU and writes per pod for two checkouts of fusionvc, side by side.

On the running sandbox (`hack/sandbox up --with-syncer`): for each round and each arm,
stops the sandbox's syncer and starts one from the arm's checkout (its own .venv and
code, the sandbox's flags), then runs fair_throughput.py's fusionvc phase (two
tenants, a Deployment of N replicas each). Rounds alternate the order of the arms, so
both see the same machine. Prints each run and the medians: syncer CPU ms per pod
(/proc/<pid>/stat), the same net of its idle CPU (measured for IDLE_S before the
rollout, times the rollout's duration: a slower rollout on a loaded machine would
otherwise charge more idle time to each pod), its writes per pod, pods/s, load
average, and the syncer's CPU per pod while the two namespaces are deleted (every pod
deleted gracefully, as in a scale-down). From the syncer's own metrics: the mean wall
time of its scheduling decisions ("decision us"; no awaits inside, so CPU plus the
time the kernel gave the core to other processes) and its garbage collector's time
per pod ("gc ms"). Each run's line also has every role's CPU per pod ("roles ms": the
API servers, etcd, kwok... that the arm's requests cost) and every API server role's
requests and watch events per pod ("api tenant", "api edge"). The sandbox's own syncer is
started again at the end. With ``--service-account-token`` the pods mount their
ServiceAccount token, as Kubernetes does by default (a TokenRequest and an edge Secret
per pod).

    PYTHONPATH=.:hack/bench .venv/bin/python hack/bench/syncer_ab.py \\
        --arm before=/work/main --arm after=. --pods 300 --rounds 3

An arm may add environment settings: ``--arm asyncio=.@FUSIONVC_EVENT_LOOP=asyncio``.
``--floor`` adds an arm labelled "floor" that runs floor_syncer.py (this checkout's) in
place of a syncer: the least a syncer can do per pod, measured the same way.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from common import REPO, cpu_seconds
from fair_throughput import Run, sandbox_verb
from syncer_scrape import gauges, histograms, scrape_text
from syncer_throughput import add_token_flag, clients

KEYS = ("syncer ms", "syncer net ms", "syncer writes", "syncer delete ms", "decision us",
        "gc ms", "sandbox ms", "pods_per_s", "load")
DECISIONS = "fusionvc_scheduler_decision_duration_seconds"
GC_SECONDS = "fusionvc_gc_seconds"
IDLE_S = 15.0
Arm = tuple[str, Path, dict[str, str]]
FLOOR = "floor"  # the arm that runs floor_syncer.py; no --arm may take its label


def parse_arm(text: str) -> Arm:
    """``label=DIR[@KEY=VAL[,KEY=VAL]]``."""
    label, _, rest = text.partition("=")
    folder, _, env = rest.partition("@")
    pairs = dict(p.split("=", 1) for p in env.split(",") if p)
    return label, Path(folder).resolve(), pairs


def decision_us(before: str, after: str) -> float:
    """Mean wall time of the scheduling decisions between two scrapes, microseconds (no
    awaits inside a decision: its CPU plus whatever the kernel gave other processes)."""
    b, a = histograms(before, DECISIONS, "result"), histograms(after, DECISIONS, "result")
    total = sum(h.sum for h in a.values()) - sum(h.sum for h in b.values())
    count = sum(h.count for h in a.values()) - sum(h.count for h in b.values())
    return round(1e6 * total / count, 1) if count else float("nan")


def start_syncer(state_dir: Path, arm: Arm, metrics_url: str) -> subprocess.Popen[bytes]:
    """The sandbox's syncer command line, run from another checkout with its own .venv;
    for the floor arm, floor_syncer.py serving its request counts where the syncer would."""
    label, checkout, env = arm
    python = str(checkout / ".venv/bin/python")
    if label == FLOOR:
        argv = [python, str(REPO / "hack/bench/floor_syncer.py"), "--state-dir",
                str(state_dir), "--metrics-port", str(urlsplit(metrics_url).port)]
        path = f"{REPO}:{REPO / 'hack/bench'}"
    else:
        record = next(r for r in json.loads((state_dir / "processes.json").read_text())
                      if r["name"] == "syncer")
        argv, path = [python, *record["argv"][1:]], str(checkout)
    log = open(state_dir / "logs" / "syncer-ab.log", "ab")  # noqa: SIM115 (the child owns it)
    return subprocess.Popen(argv, cwd=checkout, stdout=log, stderr=subprocess.STDOUT,
                            env={**os.environ, "PYTHONPATH": path, **env})


async def one_run(state_dir: Path, pods: int, arm: Arm) -> dict[str, Any]:
    label = arm[0]
    run = Run(state_dir, pods, split=False)
    url = run.syncer_metrics  # the same port as the sandbox syncer's argv
    assert url is not None, "the sandbox's state has no syncer"
    proc = start_syncer(state_dir, arm, url)
    try:
        await asyncio.sleep(10)  # it lists every cluster before it works
        idle_from = cpu_seconds(proc.pid)
        await asyncio.sleep(IDLE_S)
        idle_rate = (cpu_seconds(proc.pid) - idle_from) / IDLE_S
        run.procs.extra = {"syncer": proc.pid}
        run.cl = await clients(run.status)
        before = await asyncio.to_thread(scrape_text, url)
        try:
            figures, _ = await run.fusionvc_phase()
            after = await asyncio.to_thread(scrape_text, url)
            decisions = decision_us(before, after)
            gc_ms = 1000 * (gauges(after, GC_SECONDS) - gauges(before, GC_SECONDS)) / (2 * pods)
        finally:
            for c in run.cl.values():
                await c.close()
    finally:
        proc.terminate()
        proc.wait(30)
    idle_ms = 1000 * idle_rate * figures["seconds"] / (2 * pods)
    return {"arm": label, "syncer ms": figures["cpu ms"]["syncer"],
            "syncer net ms": round(figures["cpu ms"]["syncer"] - idle_ms, 3),
            "syncer writes": figures["syncer requests"].get("writes", float("nan")),
            "syncer delete ms": figures["syncer delete ms"], "decision us": decisions,
            "gc ms": round(gc_ms, 3),
            "sandbox ms": figures["cpu ms"]["total"],  # every process of the sandbox, per pod
            "roles ms": {k: v for k, v in figures["cpu ms"].items() if k != "total"},
            **{k: v for k, v in figures.items() if k.startswith("api ")},
            "pods_per_s": figures["pods_per_s"], "load": round(figures["load_average"][0], 1)}


async def alternate(state_dir: Path, arms: list[Arm], rounds: int,
                    run: Callable[[Arm], Awaitable[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Runs every arm once per round, the order reversed every other round, with the
    sandbox's own syncer stopped meanwhile; prints each run as it ends."""
    runs: list[dict[str, Any]] = []
    await sandbox_verb(state_dir, "stop", "syncer")
    try:
        for i in range(rounds):
            for arm in (arms if i % 2 == 0 else arms[::-1]):
                runs.append(await run(arm))
                print(json.dumps(runs[-1]), flush=True)
    finally:
        await sandbox_verb(state_dir, "start", "syncer")
    return runs


def medians_of(runs: list[dict[str, Any]], arms: list[Arm], keys: tuple[str, ...],
               digits: int) -> dict[str, dict[str, float]]:
    return {label: {k: round(statistics.median(r[k] for r in runs if r["arm"] == label), digits)
                    for k in keys} for label, _, _ in arms}


async def main_async(args: argparse.Namespace) -> None:
    state_dir = args.state_dir.resolve()
    arms = [parse_arm(a) for a in args.arm]
    if any(label == FLOOR for label, _, _ in arms):
        raise SystemExit(f"the arm label {FLOOR!r} is --floor's")
    if args.floor:
        arms.append((FLOOR, REPO, {}))
    runs = await alternate(state_dir, arms, args.rounds,
                           lambda arm: one_run(state_dir, args.pods, arm))
    medians = medians_of(runs, arms, KEYS, 3)
    first, *others = [label for label, _, _ in arms]
    ratios = {f"{o}/{first} syncer CPU per pod":
              round(medians[o]["syncer ms"] / medians[first]["syncer ms"], 3) for o in others}
    ratios.update({f"{o}/{first} syncer CPU per pod, net of idle":
                   round(medians[o]["syncer net ms"] / medians[first]["syncer net ms"], 3)
                   for o in others})
    print(json.dumps({"pods": 2 * args.pods, "medians": medians, **ratios}, indent=1))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--arm", action="append", required=True,
                        help="label=CHECKOUT[@KEY=VAL,...]; two or more, or one with --floor")
    parser.add_argument("--pods", type=int, default=300, help="replicas per tenant")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each arm")
    parser.add_argument("--state-dir", type=Path, default=REPO / ".sandbox")
    parser.add_argument("--floor", action="store_true",
                        help="add the floor arm (floor_syncer.py) beside the others")
    add_token_flag(parser)
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
