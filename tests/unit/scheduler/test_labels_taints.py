"""Node selector matching and the toleration rule."""

from typing import Any

import pytest

from scheduler.labels import SelectorError, parse_term, required_node_selector
from scheduler.taints import Taint, Toleration

LABELS = {"zone": "a", "tier": "gold", "cores": "16"}


def expr(key: str, operator: str, *values: str) -> dict[str, Any]:
    return {"key": key, "operator": operator, "values": list(values)}


@pytest.mark.parametrize(
    ("requirement", "matches"),
    [
        (expr("zone", "In", "a", "b"), True),
        (expr("zone", "In", "c"), False),
        (expr("missing", "In", "a"), False),
        (expr("zone", "NotIn", "c"), True),
        (expr("zone", "NotIn", "a"), False),
        (expr("missing", "NotIn", "a"), True),
        (expr("tier", "Exists"), True),
        (expr("missing", "Exists"), False),
        (expr("missing", "DoesNotExist"), True),
        (expr("tier", "DoesNotExist"), False),
        (expr("cores", "Gt", "8"), True),
        (expr("cores", "Gt", "16"), False),
        (expr("cores", "Lt", "32"), True),
        (expr("tier", "Gt", "1"), False),  # not an integer: no match
        (expr("missing", "Lt", "1"), False),
    ],
)
def test_match_expressions(requirement: dict[str, Any], matches: bool) -> None:
    term = parse_term({"matchExpressions": [requirement]}, "t")
    assert term.matches(LABELS, "node-1") is matches


def test_match_fields_metadata_name() -> None:
    term = parse_term({"matchFields": [expr("metadata.name", "In", "node-1")]}, "t")
    assert term.matches({}, "node-1")
    assert not term.matches({}, "node-2")


def test_terms_are_ored_and_empty_term_matches_nothing() -> None:
    spec = {
        "affinity": {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [{}, {"matchExpressions": [expr("zone", "In", "a")]}]
                }
            }
        }
    }
    selector = required_node_selector(spec)
    assert selector is not None
    assert selector.matches(LABELS, "n")
    assert not selector.matches({"zone": "b"}, "n")


def test_node_selector_and_affinity_are_anded() -> None:
    spec = {
        "nodeSelector": {"tier": "gold"},
        "affinity": {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [{"matchExpressions": [expr("zone", "In", "b")]}]
                }
            }
        },
    }
    selector = required_node_selector(spec)
    assert selector is not None
    assert not selector.matches(LABELS, "n")
    assert selector.matches({**LABELS, "zone": "b"}, "n")


@pytest.mark.parametrize(
    "requirement",
    [expr("zone", "Near", "a"), expr("cores", "Gt", "x"), expr("cores", "Lt", "1", "2")],
)
def test_invalid_requirements_are_rejected(requirement: dict[str, Any]) -> None:
    with pytest.raises(SelectorError):
        parse_term({"matchExpressions": [requirement]}, "t")


@pytest.mark.parametrize(
    ("toleration", "tolerated"),
    [
        (Toleration("gpu", "Equal", "true", "NoSchedule"), True),
        (Toleration("gpu", "", "true", ""), True),
        (Toleration("gpu", "Equal", "false", "NoSchedule"), False),
        (Toleration("gpu", "Exists", "", "NoSchedule"), True),
        (Toleration("gpu", "Exists", "", "NoExecute"), False),
        (Toleration("", "Exists", "", ""), True),
        (Toleration("other", "Exists", "", ""), False),
    ],
)
def test_toleration_rule(toleration: Toleration, tolerated: bool) -> None:
    assert toleration.tolerates(Taint("gpu", "true", "NoSchedule")) is tolerated
