"""Shared helpers of the benchmarks: find sandbox clusters, measure process memory."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def sandbox_status(state_dir: str | None = None) -> dict:  # type: ignore[type-arg]
    args = [str(REPO / "hack/sandbox"), "status", "--json"]
    if state_dir:
        args[1:1] = ["--dir", state_dir]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    status: dict = json.loads(out)  # type: ignore[type-arg]
    if not status["up"]:
        raise SystemExit("the sandbox is not up: run `make up` (or hack/sandbox up) first")
    return status


def kubeconfig(status: dict, name: str) -> str:  # type: ignore[type-arg]
    return str(next(c["kubeconfig"] for c in status["clusters"] if c["name"] == name))


def rss_kib(pid: int) -> int:
    """Resident memory of one process, from /proc (KiB)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def live_processes(state_dir: str | None = None) -> list[tuple[str, int]]:
    """(name, pid) of every recorded sandbox process that still runs."""
    folder = Path(state_dir) if state_dir else REPO / ".sandbox"
    records = json.loads((folder / "processes.json").read_text())
    return [(r["name"], r["pid"]) for r in records if os.path.exists(f"/proc/{r['pid']}")]


def sandbox_rss_mib(state_dir: str | None = None) -> dict[str, float]:
    """RSS of every recorded sandbox process, MiB."""
    return {name: rss_kib(pid) / 1024 for name, pid in live_processes(state_dir)}


def component(name: str) -> str:
    """The role of a sandbox process: 'tenant apiserver', 'edge kwok', 'syncer', ..."""
    if name in ("etcd", "syncer", "gslb"):
        return name
    cluster, _, part = name.rpartition("-")
    part = {"apiserver": "apiserver", "manager": "controller-manager", "kwok": "kwok",
            "server": "metrics-server", "dns": "dns"}[part]
    kind = "management" if cluster.startswith("management") else cluster.split("-")[0]
    return f"{kind} {part}"


def sandbox_cpu_seconds(state_dir: str | None = None) -> dict[str, float]:
    """CPU seconds used so far by the sandbox processes, summed per role."""
    out: dict[str, float] = {}
    for name, pid in live_processes(state_dir):
        role = component(name)
        out[role] = out.get(role, 0.0) + cpu_seconds(pid)
    return out


def machine_busy_seconds() -> float:
    """CPU seconds all cores spent not idle since boot, from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU used per role (and by the whole machine) between start() and per_pod_ms()."""

    def __init__(self) -> None:
        self.before: dict[str, float] = {}
        self.machine = 0.0

    def start(self) -> None:
        self.before, self.machine = sandbox_cpu_seconds(), machine_busy_seconds()

    def per_pod_ms(self, pods: int) -> dict[str, float]:
        after = sandbox_cpu_seconds()
        out = {
            role: round(1000 * (after[role] - self.before.get(role, 0.0)) / pods, 2)
            for role in sorted(after)
        }
        out["whole machine"] = round(1000 * (machine_busy_seconds() - self.machine) / pods, 2)
        return out


TENANT_SIDE = ("tenant", "management", "syncer")  # roles of the tenants' side of fusionvc


def pin_sides(split: bool, state_dir: str | None = None) -> None:
    """With ``split``, the tenants' side (tenant and management control planes, syncer)
    runs on CPU 0 and the edge clusters on CPU 1, as if on separate machines; etcd,
    which both use, runs on either. Without, every process may use every CPU again."""
    for name, pid in live_processes(state_dir):
        role = component(name)
        cpus = "0,1"
        if split and role != "etcd":
            cpus = "0" if role.startswith(TENANT_SIDE) else "1"
        subprocess.run(
            ["taskset", "-a", "-p", "-c", cpus, str(pid)], capture_output=True, check=False
        )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]
