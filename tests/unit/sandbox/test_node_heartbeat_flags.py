"""The sandbox's virtual node heartbeat: one topology field, the syncer's --node-heartbeat and
the tenant controller-managers' --node-monitor-grace-period after it."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from sandbox_lib.components import ClusterLayout, controller_manager_argv
from sandbox_lib.pki import ClusterPKI
from sandbox_lib.topology import TopologyError, parse_topology

from syncer.kinds.node_heartbeat import recommended_grace_period_s

REPO = Path(__file__).resolve().parents[3]
GOOD: dict[str, Any] = yaml.safe_load((REPO / "config/sandbox.yaml").read_text())


def grace_flags(tmp_path: Path, role: str, heartbeat: float | None) -> list[str]:
    layout = ClusterLayout(name=f"{role}-x", role=role, region="", port=6443,
                           pki=ClusterPKI(tmp_path / "pki"), kubeconfig_dir=tmp_path)
    argv = (controller_manager_argv(Path("/bin"), layout) if heartbeat is None
            else controller_manager_argv(Path("/bin"), layout, heartbeat))
    return [a for a in argv if a.startswith("--node-monitor-grace-period")]


def test_the_shipped_sandbox_keeps_the_kubelet_heartbeat_and_the_default_grace() -> None:
    assert parse_topology(GOOD).node_heartbeat_s == 10.0


@pytest.mark.parametrize(("role", "heartbeat", "flags"), [
    ("tenant", None, ["--node-monitor-grace-period=50s"]),  # kube-controller-manager's default
    ("tenant", 10.0, ["--node-monitor-grace-period=50s"]),
    ("tenant", 30.0, ["--node-monitor-grace-period=150s"]),
    ("tenant", 60.0, ["--node-monitor-grace-period=300s"]),
    ("edge", 60.0, []),  # kwok renews edge nodes' Leases itself
    ("management", 60.0, []),
])
def test_tenant_controller_managers_allow_five_renewals(
        tmp_path: Path, role: str, heartbeat: float | None, flags: list[str]) -> None:
    assert grace_flags(tmp_path, role, heartbeat) == flags
    if heartbeat is not None and flags:  # the same rule as the syncer documents
        assert flags == [f"--node-monitor-grace-period={recommended_grace_period_s(heartbeat)}s"]


@pytest.mark.parametrize(("value", "message"), [
    (0, "document.nodeHeartbeatSeconds: must be 1 to 600, got 0"),
    (3600, "document.nodeHeartbeatSeconds: must be 1 to 600, got 3600"),
    ("60s", "document.nodeHeartbeatSeconds: must be int or float, got '60s'"),
])
def test_a_bad_heartbeat_field_is_named(value: Any, message: str) -> None:
    raw = copy.deepcopy(GOOD)
    raw["nodeHeartbeatSeconds"] = value
    with pytest.raises(TopologyError, match=message):
        parse_topology(raw)
    raw["nodeHeartbeatSeconds"] = 60
    assert parse_topology(raw).node_heartbeat_s == 60.0
