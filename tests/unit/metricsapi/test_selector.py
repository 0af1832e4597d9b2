"""Label selectors of metrics list requests (table tests)."""

from __future__ import annotations

import pytest

from syncer.metricsapi.selector import SelectorError, parse_selector

LABELS = {"app": "infer", "tier": "gpu", "env": "prod"}


@pytest.mark.parametrize(("selector", "matches"), [
    (None, True),
    ("", True),
    ("app=infer", True),
    ("app==infer", True),
    ("app=web", False),
    ("app!=web", True),
    ("tier", True),
    ("!tier", False),
    ("!missing", True),
    ("env in (prod, staging)", True),
    ("env notin (prod)", False),
    ("app=infer,env in (dev)", False),
    ("app=infer, tier=gpu, env notin (dev,qa)", True),
])
def test_selector_matches(selector: str | None, matches: bool) -> None:
    assert parse_selector(selector)(LABELS) is matches


@pytest.mark.parametrize("selector", ["=x", "a b=c", "in (x)"])
def test_bad_selectors_are_errors(selector: str) -> None:
    with pytest.raises(SelectorError):
        parse_selector(selector)
