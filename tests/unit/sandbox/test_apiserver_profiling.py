"""`hack/sandbox up --apiserver-profiling`: kube-apiservers serve /debug/pprof only when asked
(hack/bench/apiserver_cpu.py reads their CPU profiles); a sandbox is like production without."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from sandbox_lib.__main__ import _parser
from sandbox_lib.components import ClusterLayout, apiserver_argv
from sandbox_lib.pki import ClusterPKI
from sandbox_lib.topology import parse_topology

REPO = Path(__file__).resolve().parents[3]
GOOD: dict[str, Any] = yaml.safe_load((REPO / "config/sandbox.yaml").read_text())


def profiling_flags(tmp_path: Path, **kwargs: bool) -> list[str]:
    layout = ClusterLayout(name="tenant-x", role="tenant", region="", port=6443,
                           pki=ClusterPKI(tmp_path / "pki"), kubeconfig_dir=tmp_path)
    layout.pki.ensure_ca(layout.name)
    argv = apiserver_argv(Path("/bin"), layout, "http://127.0.0.1:2379", **kwargs)
    return [a for a in argv if a.startswith("--profiling")]


@pytest.mark.parametrize(("kwargs", "flags"), [
    ({}, ["--profiling=false"]),
    ({"profiling": False}, ["--profiling=false"]),
    ({"profiling": True}, ["--profiling=true"]),
])
def test_profiling_is_served_only_when_asked(
        tmp_path: Path, kwargs: dict[str, bool], flags: list[str]) -> None:
    assert profiling_flags(tmp_path, **kwargs) == flags


def test_the_shipped_topology_and_a_plain_up_leave_it_off() -> None:
    assert parse_topology(GOOD).apiserver_profiling is False
    assert _parser().parse_args(["up"]).apiserver_profiling is False
    assert _parser().parse_args(["up", "--apiserver-profiling"]).apiserver_profiling is True
