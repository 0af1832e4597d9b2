"""Kubernetes quantity strings ("500m", "1.5Gi", "1e3", "12k") parsed exactly.

Owns the one quantity parser of the scheduler. Values are exact fractions;
cpu becomes integer milli-cores and every other resource integer base units
(bytes, GPUs, pods), both rounded up like resource.Quantity's MilliValue() and
Value() do.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction
from functools import lru_cache

_DECIMAL_EXPONENTS = {
    "n": -9,
    "u": -6,
    "m": -3,
    "": 0,
    "k": 3,
    "M": 6,
    "G": 9,
    "T": 12,
    "P": 15,
    "E": 18,
}
_BINARY_EXPONENTS = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_MULTIPLIERS: dict[str, Fraction] = {
    **{suffix: Fraction(10) ** e for suffix, e in _DECIMAL_EXPONENTS.items()},
    **{suffix: Fraction(2) ** e for suffix, e in _BINARY_EXPONENTS.items()},
}

# The exponent form is tried before the suffix so that "1E3" is 1000 while a
# bare "1E" is one exa, as in apimachinery's parser.
_QUANTITY = re.compile(
    r"(?P<number>[+-]?(?:\d+(?:\.\d*)?|\.\d+))"
    r"(?:(?P<exponent>[eE][+-]?\d+)|(?P<suffix>[KMGTPE]i|[numkMGTPE]))?"
)


class QuantityError(ValueError):
    """A string that is not a Kubernetes quantity."""


@lru_cache(maxsize=8192)
def parse_quantity(text: str) -> Fraction:
    """Exact value of a quantity string; raises QuantityError when malformed."""
    match = _QUANTITY.fullmatch(text.strip())
    if match is None:
        raise QuantityError(f"invalid quantity {text!r}")
    value = Fraction(match["number"])
    if match["exponent"] is not None:
        return value * Fraction(10) ** int(match["exponent"][1:])
    return value * _MULTIPLIERS[match["suffix"] or ""]


def milli_value(text: str | int | float) -> int:
    """Quantity in thousandths, rounded up (cpu: "500m" -> 500, "1.5" -> 1500)."""
    return math.ceil(parse_quantity(str(text)) * 1000)


def value(text: str | int | float) -> int:
    """Quantity in base units, rounded up ("1Ki" -> 1024, "1.5" -> 2)."""
    return math.ceil(parse_quantity(str(text)))


def parse_decimal(text: str) -> float:
    """A plain decimal number such as a price annotation ("2.40"); raises ValueError."""
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"not a finite number: {text!r}")
    return number
