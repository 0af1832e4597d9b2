"""The failover state machine of one edge cluster, table-tested with a fake clock."""

from __future__ import annotations

import pytest

from syncer.failover.state import (
    Phase,
    Reachability,
    conditions,
    from_status,
    readmit,
    step,
    to_status,
)
from syncer.fleet.specs import FailoverSpec, parse_edge_spec

POLICY = FailoverSpec(grace_period_seconds=60, recovery_stable_seconds=30)
T0 = 1_800_000_000.0


def run(observations: list[tuple[float, bool]],
        start: Reachability | None = None) -> list[Reachability]:
    """The states after each (seconds after T0, reachable) observation."""
    state, seen = start or Reachability(), []
    for at, reachable in observations:
        state = step(state, reachable, T0 + at, POLICY)
        seen.append(state)
    return seen


@pytest.mark.parametrize(("observations", "phase", "admitted", "moving"), [
    ([(0, True)], Phase.REACHABLE, True, False),
    ([(0, False)], Phase.LOST, False, False),
    ([(0, False), (59, False)], Phase.LOST, False, False),
    ([(0, False), (60, False)], Phase.FAILED_OVER, False, True),
    # a flap shorter than the grace period: admitted again at once, nothing moved
    ([(0, False), (20, True)], Phase.RECOVERING, True, False),
    ([(0, False), (20, True), (50, True)], Phase.REACHABLE, True, False),
    # flapping keeps the first loss time: the grace period is not restarted
    ([(0, False), (20, True), (40, False), (61, False)], Phase.FAILED_OVER, False, True),
    ([(0, False), (20, True), (40, False)], Phase.LOST, False, False),
    # back after a failover: not admitted until stable and cleaned (readmit)
    ([(0, False), (60, False), (100, True)], Phase.RECOVERING, False, False),
    ([(0, False), (60, False), (100, True), (140, True)], Phase.RECOVERING, False, False),
    ([(0, False), (60, False), (100, True), (110, False)], Phase.FAILED_OVER, False, True),
])
def test_transitions(observations: list[tuple[float, bool]], phase: Phase, admitted: bool,
                     moving: bool) -> None:
    last = run(observations)[-1]
    assert (last.phase, last.admitted, last.moving) == (phase, admitted, moving)


def test_times_kept_through_the_states() -> None:
    states = run([(0, False), (60, False), (100, True), (125, True), (130, True)])
    assert states[0].lost_since == T0 and states[0].changed_at == T0
    assert states[1].lost_since == T0 and states[1].failed_over
    assert states[2].recovering_since == T0 + 100 and states[2].changed_at == T0 + 100
    assert not states[3].failback_due(T0 + 125, POLICY)
    assert states[4].failback_due(T0 + 130, POLICY)
    back = readmit(states[4])
    assert (back.phase, back.admitted, back.failed_over, back.lost_since) == (
        Phase.REACHABLE, True, False, None)


def test_state_survives_a_restart_through_the_status() -> None:
    for state in run([(0, False), (60, False), (100, True)]):
        assert from_status({"failover": to_status(state)}) == state


@pytest.mark.parametrize("status", [
    None, {}, {"failover": {"phase": "Bogus"}},
    {"failover": {"phase": "Lost"}},  # no loss time: not acted upon
])
def test_missing_or_unreadable_status_starts_reachable(status: dict[str, object] | None) -> None:
    assert from_status(status) == Reachability()


def test_conditions_show_the_phase() -> None:
    lost = run([(0, False)])[-1]
    reachable, failed_over = conditions(lost, "edge-gz")
    assert reachable[:3] == ("Reachable", "False", "Lost")
    assert "2027-01-15T08:00:00Z" in reachable[3]
    assert failed_over[:2] == ("FailedOver", "False")
    moved = run([(0, False), (60, False)])[-1]
    assert conditions(moved, "edge-gz")[1][:3] == ("FailedOver", "True", "PodsMoved")


def test_edge_spec_failover_defaults_and_values() -> None:
    spec = parse_edge_spec({"region": "r"})
    assert spec.failover == FailoverSpec(60.0, 30.0) and not spec.out_of_service
    spec = parse_edge_spec({"region": "r", "outOfService": True,
                            "failover": {"gracePeriodSeconds": 5, "recoveryStableSeconds": 0}})
    assert spec.failover == FailoverSpec(5.0, 0.0) and spec.out_of_service


def test_crd_declares_the_failover_fields_and_the_reachable_column() -> None:
    import pathlib

    import yaml
    path = pathlib.Path(__file__).resolve().parents[3] / "config/crd/fusionvc.io_edgeclusters.yaml"
    version = yaml.safe_load(path.read_text())["spec"]["versions"][0]
    props = version["schema"]["openAPIV3Schema"]["properties"]
    spec, status = props["spec"]["properties"], props["status"]["properties"]
    assert spec["failover"]["properties"]["gracePeriodSeconds"]["default"] == 60
    assert spec["failover"]["properties"]["recoveryStableSeconds"]["default"] == 30
    assert spec["outOfService"]["type"] == "boolean"
    written = to_status(run([(0, False)])[-1])
    assert set(written) == set(status["failover"]["properties"])
    assert all(isinstance(v, dict) and "type" in v
               for v in status["failover"]["properties"].values())
    assert "Reachable" in {c["name"] for c in version["additionalPrinterColumns"]}
