"""Water-level hysteresis (syncer/gslb/waterlevel.py)."""

from __future__ import annotations

import pytest

from syncer.gslb.waterlevel import WaterLevel, next_drained

LEVEL = WaterLevel(high=0.8, low=0.6)


@pytest.mark.parametrize(("was", "load", "level", "want"), [
    (False, 0.5, LEVEL, False),
    (False, 0.8, LEVEL, False),   # at high: not yet
    (False, 0.81, LEVEL, True),   # above high: drain
    (True, 0.7, LEVEL, True),     # between low and high: stays drained
    (True, 0.6, LEVEL, True),     # at low: still drained
    (True, 0.59, LEVEL, False),   # below low: back
    (False, 0.7, LEVEL, False),   # between, never drained: stays in
    (True, None, LEVEL, False),   # no metrics: never drained
    (False, 0.99, None, False),   # no water level set
])
def test_hysteresis(was: bool, load: float | None, level: WaterLevel | None, want: bool) -> None:
    assert next_drained(was, load, level) is want


def test_a_sequence_drains_once_and_comes_back_once() -> None:
    drained, changes = False, []
    for load in [0.5, 0.79, 0.85, 0.75, 0.65, 0.81, 0.55, 0.7]:
        new = next_drained(drained, load, LEVEL)
        if new != drained:
            changes.append((load, new))
        drained = new
    assert changes == [(0.85, True), (0.55, False)]


def test_low_must_be_below_high() -> None:
    with pytest.raises(ValueError, match="below high"):
        WaterLevel(high=0.5, low=0.5)
