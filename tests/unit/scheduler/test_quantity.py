"""Kubernetes quantity parsing."""

from fractions import Fraction

import pytest

from scheduler.quantity import QuantityError, milli_value, parse_quantity, value
from scheduler.resources import resource_amount


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1", Fraction(1)),
        ("100m", Fraction(1, 10)),
        ("1.5", Fraction(3, 2)),
        ("2Gi", Fraction(2 * 2**30)),
        ("500M", Fraction(500 * 10**6)),
        ("1e3", Fraction(1000)),
        ("1E3", Fraction(1000)),
        ("1E", Fraction(10**18)),
        ("12k", Fraction(12000)),
        ("1Ki", Fraction(1024)),
        ("3Ti", Fraction(3 * 2**40)),
        ("1Ei", Fraction(2**60)),
        ("250u", Fraction(250, 10**6)),
        ("5n", Fraction(5, 10**9)),
        (".5", Fraction(1, 2)),
        ("1.25e-1", Fraction(1, 8)),
        ("+2", Fraction(2)),
    ],
)
def test_parses_exactly(text: str, expected: Fraction) -> None:
    assert parse_quantity(text) == expected


@pytest.mark.parametrize("text", ["", "m", "1.2.3", "1KI", "1 Gi", "abc", "1e", "--1", "1Gib"])
def test_rejects_malformed(text: str) -> None:
    with pytest.raises(QuantityError):
        parse_quantity(text)


def test_rounds_up_like_apimachinery() -> None:
    assert milli_value("1.5") == 1500
    assert milli_value("0.1m") == 1
    assert value("1.5") == 2
    assert value("100m") == 1
    assert resource_amount("cpu", "250m") == 250
    assert resource_amount("memory", "1Ki") == 1024
    assert resource_amount("nvidia.com/gpu", "2") == 2
