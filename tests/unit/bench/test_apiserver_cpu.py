"""hack/bench/apiserver_cpu.py's reading of `go tool pprof -top` and of where the pods were."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "hack" / "bench"))
from apiserver_cpu import SHOWN, pods_held, seconds


@pytest.mark.parametrize(("line", "focused", "total"), [
    ("Showing nodes accounting for 0.66s, 13.95% of 4.73s total", 0.66, 4.73),
    ("Showing nodes accounting for 390ms, 8.25% of 4.73s total", 0.39, 4.73),
    ("Showing nodes accounting for 10ms, 100% of 10ms total", 0.01, 0.01),
    ("Showing nodes accounting for 1.50mins, 50% of 3mins total", 90.0, 180.0),
])
def test_the_focused_and_total_seconds_are_read_in_their_units(
        line: str, focused: float, total: float) -> None:
    found = SHOWN.search(f"Active filters:\n   focus=x\n{line}\n      flat  flat%")
    assert found is not None
    assert seconds(found[1], found[2]) == pytest.approx(focused)
    assert seconds(found[3], found[4]) == pytest.approx(total)


PLACED = {"tenant-a": {"edge-bj": 120, "edge-sh": 0, "edge-gz": 180},
          "tenant-b": {"edge-bj": 100, "edge-sh": 0, "edge-gz": 200}}


@pytest.mark.parametrize(("cluster", "phase", "pods"), [
    ("edge-bj", "fusionvc", 220),  # what both tenants placed there
    ("edge-bj", "baseline", 220),  # the baseline runs as many there
    ("edge-sh", "baseline", 0),
    ("tenant-a", "fusionvc", 300),
    ("tenant-a", "baseline", 0),  # idle while the edges run the baseline
])
def test_each_api_server_is_charged_the_pods_it_held(cluster: str, phase: str,
                                                      pods: int) -> None:
    assert pods_held(cluster, 300, PLACED, phase) == pods
