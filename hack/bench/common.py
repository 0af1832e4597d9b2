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


def sandbox_rss_mib(state_dir: str | None = None) -> dict[str, float]:
    """RSS of every recorded sandbox process, MiB."""
    folder = Path(state_dir) if state_dir else REPO / ".sandbox"
    out = {}
    for rec in json.loads((folder / "processes.json").read_text()):
        if os.path.exists(f"/proc/{rec['pid']}"):
            out[rec["name"]] = rss_kib(rec["pid"]) / 1024
    return out


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]
