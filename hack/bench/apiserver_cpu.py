"""Where the API servers' CPU goes per pod, fusionvc against the baseline (issue 16).

fair_throughput.py gives each process's CPU per pod; this says what a kube-apiserver
spends it on. On a sandbox started with ``hack/sandbox up --with-syncer
--apiserver-profiling`` (kube-apiservers serve /debug/pprof), it runs fair_throughput's
two phases and, from just before each rollout until it ends, takes CPU profiles of
--chunk seconds back to back from every tenant and edge API server (``kubectl get --raw
/debug/pprof/profile``).
Per cluster and phase it prints the profile's CPU per pod that cluster held (a tenant:
its Deployment's replicas; an edge: the pods placed there) and, by category, the CPU of
the stacks that pass through the category's functions (``go tool pprof -focus``; the
categories overlap: the etcd client and TLS run inside the request handlers).

    hack/sandbox --dir D up --with-syncer --apiserver-profiling
    PYTHONPATH=.:hack/bench .venv/bin/python hack/bench/apiserver_cpu.py --state-dir D \\
        --pods 300

The last profile runs past the rollout's end by up to --chunk seconds, and the first
starts 2 s before it (fair_throughput's pause): an API server idles at 20-40 ms of CPU per
second here, counted in too; the rollout's seconds and the profiled ones are printed.
The profiles stay in --out for ``go tool pprof``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import shutil
from pathlib import Path
from typing import Any

from fair_throughput import TENANTS_USED, Run
from syncer_throughput import EDGES, clients

# category -> the functions its stacks pass through (go tool pprof -focus)
CATEGORIES = {
    "create": r"createHandler",
    "patch": r"PatchResource|patchResource|\(\*patcher\)",
    "update": r"UpdateResource",
    "get, list": r"handleList|GetResource|getResourceHandler",
    "delete": r"DeleteResource|DeleteCollection",
    "watch serving": r"handleWatch|cacheWatcher|watchEncoder",
    "x509 client auth": r"authentication/request/x509\.",  # request-header and client CA
    "etcd client": r"go\.etcd\.io",
    "TLS": r"crypto/tls\.",
    "garbage collector": r"runtime\.gcBgMarkWorker|runtime\.gcAssistAlloc",
}
UNITS = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9, "mins": 60.0, "hrs": 3600.0}
SHOWN = re.compile(
    r"Showing nodes accounting for ([0-9.]+)([a-zµ]*), [0-9.]+% of ([0-9.]+)([a-zµ]*)")


def seconds(value: str, unit: str) -> float:
    return float(value) * UNITS.get(unit or "s", 1.0)


async def pprof_top(paths: list[Path], focus: str | None) -> tuple[float, float]:
    """(CPU seconds of the stacks through ``focus`` or of all, the profiles' total), every
    node counted (the flat times of all nodes add up to the focused stacks' time)."""
    argv = ["go", "tool", "pprof", "-top", "-nodecount=1000000", "-nodefraction=0",
            *([f"-focus={focus}"] if focus else []), *map(str, paths)]
    proc = await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE)
    out, _ = await asyncio.wait_for(proc.communicate(), 120)
    found = SHOWN.search(out.decode())
    if found is None:  # nothing matched the focus
        return 0.0, 0.0
    return seconds(found[1], found[2]), seconds(found[3], found[4])


async def fetch_profile(kubeconfig: str, duration_s: int, out: Path) -> Path:
    proc = await asyncio.create_subprocess_exec(
        "kubectl", f"--kubeconfig={kubeconfig}", f"--request-timeout={duration_s + 60}s", "get",
        "--raw", f"/debug/pprof/profile?seconds={duration_s}", stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    data, err = await asyncio.wait_for(proc.communicate(), duration_s + 90)
    if proc.returncode != 0:
        raise SystemExit(f"profile of {kubeconfig}: {err.decode().strip()}; was the sandbox "
                         "started with `hack/sandbox up --apiserver-profiling`?")
    await asyncio.to_thread(out.write_bytes, data)
    return out


async def profile_until(kubeconfig: str, chunk: int, stop: asyncio.Event,
                        prefix: Path) -> list[Path]:
    """Profiles of ``chunk`` seconds back to back until ``stop`` is set (an API server serves
    one CPU profile at a time, of a length fixed when asked)."""
    paths: list[Path] = []
    while not stop.is_set():
        paths.append(await fetch_profile(kubeconfig, chunk, Path(f"{prefix}-{len(paths)}.pprof")))
    return paths


class ProfiledRun(Run):
    """fair_throughput's run, each rollout profiled on every tenant and edge API server."""

    def __init__(self, args: argparse.Namespace) -> None:
        super().__init__(args.state_dir.resolve(), args.pods, split=False)
        self.chunk: int = args.chunk
        self.out: Path = args.out
        self.phase = ""
        self.profiles: dict[str, dict[str, list[Path]]] = {}
        self.kubeconfigs = {c["name"]: c["kubeconfig"] for c in self.status["clusters"]
                            if c["role"] in ("tenant", "edge")}

    async def measure(self, trackers: list[Any], pods: int, create: Any,
                      syncer: bool) -> dict[str, Any]:
        stop = asyncio.Event()
        fetches = {name: asyncio.create_task(profile_until(
            kc, self.chunk, stop, self.out / f"{self.phase}-{name}"))
            for name, kc in self.kubeconfigs.items()}
        try:
            figures = await super().measure(trackers, pods, create, syncer)
        finally:
            stop.set()
            self.profiles[self.phase] = {n: await t for n, t in fetches.items()}
        return figures


async def breakdown(paths: list[Path], pods: int) -> dict[str, float]:
    """CPU ms per pod: the whole profile's, then each category's."""
    _, total = await pprof_top(paths, None)
    row = {"total": round(1000 * total / pods, 3)}
    for name, focus in CATEGORIES.items():
        row[name] = round(1000 * (await pprof_top(paths, focus))[0] / pods, 3)
    return row


def pods_held(cluster: str, per_tenant: int, placed: dict[str, dict[str, int]],
              phase: str) -> int:
    if cluster in EDGES:
        return sum(by_edge.get(cluster, 0) for by_edge in placed.values())
    return per_tenant if phase == "fusionvc" and cluster in TENANTS_USED else 0


async def main_async(args: argparse.Namespace) -> None:
    if shutil.which("go") is None or shutil.which("kubectl") is None:
        raise SystemExit("needs go (go tool pprof) and kubectl on PATH")
    args.out.mkdir(parents=True, exist_ok=True)
    run = ProfiledRun(args)
    if not run.status.get("syncer"):
        raise SystemExit("no syncer in the sandbox: run `hack/sandbox up --with-syncer`")
    run.cl = await clients(run.status)
    try:
        run.phase = "fusionvc"
        fvc, placed = await run.fusionvc_phase()
        run.phase = "baseline"
        base = await run.baseline_phase(placed)
    finally:
        for c in run.cl.values():
            await c.close()
    table: dict[str, dict[str, dict[str, float]]] = {}
    for phase, figures in (("baseline", base), ("fusionvc", fvc)):
        for cluster, paths in sorted(run.profiles[phase].items()):
            pods = pods_held(cluster, args.pods, placed, phase)
            if pods:
                table.setdefault(cluster, {})[phase] = await breakdown(paths, pods)
        chunks = len(next(iter(run.profiles[phase].values())))
        print(f"{phase}: rollout {figures['seconds']} s, profiled {chunks} x {args.chunk} s, "
              f"load {[round(x, 1) for x in figures['load_average']]}")
    print(json.dumps({"placed": placed, "cpu_ms_per_pod": table}, indent=1))
    for cluster, phases in table.items():
        print(f"\n{cluster}: API server CPU ms per pod it held (baseline | fusionvc)")
        for name in ("total", *CATEGORIES):
            cells = [f"{phases[p][name]:8.3f}" if p in phases else "       -"
                     for p in ("baseline", "fusionvc")]
            print(f"  {name:20s} {cells[0]} | {cells[1]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=300, help="replicas per tenant")
    parser.add_argument("--chunk", type=int, default=3,
                        help="seconds per profile, taken back to back until the rollout ends")
    parser.add_argument("--state-dir", type=Path, default=Path(".sandbox"))
    parser.add_argument("--out", type=Path, default=Path("/tmp/fusionvc-apiserver-cpu"),
                        help="folder for the .pprof files")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
