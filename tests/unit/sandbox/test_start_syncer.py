"""hack/sandbox up --with-syncer while a syncer runs does not start a second one (issue 18)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from sandbox_lib.processes import ProcessRecord, load_records, save_records, start, stop_all
from sandbox_lib.sandbox import Sandbox
from sandbox_lib.topology import load_topology

REPO = Path(__file__).resolve().parents[3]


def sandbox_at(state_dir: Path) -> Sandbox:
    """A Sandbox whose state names a management cluster (no cluster runs)."""
    topology = REPO / "config/sandbox.yaml"
    box = Sandbox(state_dir, load_topology(topology), topology)
    box.logs.mkdir(parents=True)
    box.state_file.write_text(json.dumps({"clusters": [
        {"name": "management", "role": "management", "kubeconfig": str(state_dir / "kc")}]}))
    return box


def test_a_running_syncer_is_kept_and_not_started_twice(tmp_path: Path) -> None:
    box = sandbox_at(tmp_path)
    # Stands in for the running syncer: a live process recorded under the name "syncer".
    first = start("syncer", [sys.executable, "-c", "import time; time.sleep(120)"], box.logs)
    save_records(box.procs_file, [first])
    said: list[str] = []
    try:
        box.start_syncer(said.append)
        records = load_records(box.procs_file)
        assert [(r.name, r.pid) for r in records] == [("syncer", first.pid)]
        assert "already running" in said[0] and str(first.pid) in said[0]
    finally:
        stop_all([*load_records(box.procs_file), first])


def test_a_dead_syncer_record_is_replaced(tmp_path: Path) -> None:
    box = sandbox_at(tmp_path)
    dead = ProcessRecord("syncer", 2**22 + 7, sys.executable, str(box.logs / "x.log"))
    save_records(box.procs_file, [dead])
    try:
        box.start_syncer(lambda _msg: None)
        records = load_records(box.procs_file)
        assert len(records) == 1 and records[0].pid != dead.pid
    finally:
        stop_all(load_records(box.procs_file))
