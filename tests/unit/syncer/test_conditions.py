"""Status conditions (syncer/conditions.py)."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest

from syncer.core.conditions import get_condition, now_rfc3339, same_condition, set_condition

Obj = dict[str, Any]
T0, T1 = "2024-01-01T00:00:00Z", "2024-01-02T00:00:00Z"
READY_TRUE = {"type": "Ready", "status": "True", "reason": "Ok", "message": "fine",
              "lastTransitionTime": T0}


@pytest.mark.parametrize(
    ("status", "reason", "message", "expected_time"),
    [
        ("True", "Ok", "fine", T0),  # nothing changed
        ("True", "StillOk", "other words", T0),  # reason/message change: time stays
        ("False", "Broken", "down", T1),  # status change: time moves
        ("Unknown", "Ok", "fine", T1),
    ],
)
def test_transition_time_moves_only_on_status_change(status: str, reason: str, message: str,
                                                     expected_time: str) -> None:
    conditions = [copy.deepcopy(READY_TRUE)]
    [cond] = set_condition(conditions, "Ready", status, reason, message, now=T1)
    assert cond == {"type": "Ready", "status": status, "reason": reason, "message": message,
                    "lastTransitionTime": expected_time}


@pytest.mark.parametrize("existing", [None, [], [{"type": "Other", "status": "True"}]])
def test_new_condition_is_appended(existing: list[Obj] | None) -> None:
    result = set_condition(existing, "Ready", "False", "Why", "msg", now=T1)
    assert result[-1] == {"type": "Ready", "status": "False", "reason": "Why", "message": "msg",
                          "lastTransitionTime": T1}
    assert result[:-1] == (existing or [])


def test_other_conditions_kept_in_place() -> None:
    other = {"type": "Other", "status": "True", "lastTransitionTime": T0}
    result = set_condition([other, copy.deepcopy(READY_TRUE)], "Ready", "False", "r", "m", now=T1)
    assert [c["type"] for c in result] == ["Other", "Ready"]
    assert result[0] == other


def test_input_not_mutated() -> None:
    conditions = [copy.deepcopy(READY_TRUE)]
    set_condition(conditions, "Ready", "False", "r", "m", now=T1)
    assert conditions == [READY_TRUE]


def test_custom_time_field() -> None:
    [cond] = set_condition([{"type": "Ready", "status": "True", "lastProbeTime": T0}], "Ready",
                           "False", "r", "m", now=T1, time_field="lastProbeTime")
    assert cond["lastProbeTime"] == T1
    assert "lastTransitionTime" not in cond


def test_default_now_is_rfc3339() -> None:
    [cond] = set_condition(None, "Ready", "True", "r", "m")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", cond["lastTransitionTime"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", now_rfc3339())


def test_get_and_same_condition() -> None:
    obj = {"status": {"conditions": [copy.deepcopy(READY_TRUE)]}}
    got = get_condition(obj, "Ready")
    assert got == READY_TRUE
    assert got is not obj["status"]["conditions"][0]
    assert get_condition(obj, "Missing") is None
    assert get_condition({}, "Ready") is None
    assert same_condition(obj, "Ready", "True", "Ok", "fine")
    assert not same_condition(obj, "Ready", "True", "Ok", "other")
    assert not same_condition(obj, "Missing", "True", "Ok", "fine")


def test_now_rfc3339_is_the_current_second_in_utc() -> None:
    import datetime as dt
    import time

    before = int(time.time())
    text = now_rfc3339()
    after = int(time.time())
    seconds = int(dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ")
                  .replace(tzinfo=dt.UTC).timestamp())
    assert before <= seconds <= after
