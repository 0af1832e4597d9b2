"""How one setting's raw value becomes its typed value (used by syncer.ops.settings).

``Spec`` describes a setting (file key, flag, kind, limits); ``convert`` turns a raw
value (text from a flag or the environment, any YAML scalar from a file) into its
type or raises :class:`SettingsError` naming where the value came from.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from scheduler.quantity import QuantityError, parse_quantity

ENV_PREFIX = "FUSIONVC_"


class SettingsError(ValueError):
    """A setting is missing, malformed or inconsistent with another one."""


@dataclass(frozen=True)
class Spec:
    key: str  # "group.field": the YAML key path and the dataclass field
    flag: str
    kind: str  # str | optstr | int | float | duration | bool | choice | refs | quantity
    help: str
    minimum: int | None = None  # ints only; floats and durations must be > 0 ...
    choices: tuple[str, ...] = ()
    zero_is_off: bool = False  # ... or 0 too, when that turns the feature off

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.flag[2:].upper().replace("-", "_")


_DURATION = re.compile(r"^\s*([+-]?(?:\d+(?:\.\d*)?|\.\d+))\s*(ms|s|m|h)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def bad(where: str, problem: str) -> SettingsError:
    return SettingsError(f"{where}: {problem}")


def _number(spec: Spec, raw: object, where: str) -> float:
    if isinstance(raw, bool):
        raise bad(where, f"expected a number, got {raw!r}")
    if isinstance(raw, int | float):
        value = float(raw)
    elif isinstance(raw, str):
        match = _DURATION.match(raw) if spec.kind == "duration" else None
        if match:
            value = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        else:
            try:
                value = float(raw)
            except ValueError:
                what = "a duration" if spec.kind == "duration" else "a number"
                raise bad(where, f"expected {what}, got {raw!r}") from None
    else:
        raise bad(where, f"expected a number, got {type(raw).__name__} {raw!r}")
    if value != value or value in (float("inf"), float("-inf")):
        raise bad(where, f"expected a finite number, got {raw!r}")
    if value < 0 or (value == 0 and not spec.zero_is_off):
        more = " (or 0: off)" if spec.zero_is_off else ""
        raise bad(where, f"must be greater than 0{more}, got {raw!r}")
    return value


def _integer(spec: Spec, raw: object, where: str) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int | str):
        raise bad(where, f"expected an integer, got {type(raw).__name__} {raw!r}")
    try:
        value = int(raw)
    except ValueError:
        raise bad(where, f"expected an integer, got {raw!r}") from None
    if spec.minimum is not None and value < spec.minimum:
        raise bad(where, f"must be at least {spec.minimum}, got {raw!r}")
    if spec.key in ("http.port", "kubelet.port", "kubelet.advertise_port") and value > 65535:
        raise bad(where, f"must be at most 65535, got {raw!r}")
    return value


def _boolean(raw: object, where: str) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower() if isinstance(raw, str) else None
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off"):
        return False
    raise bad(where, f"expected true or false, got {raw!r}")


def _string(spec: Spec, raw: object, where: str) -> str | None:
    if not isinstance(raw, str):
        raise bad(where, f"expected a string, got {type(raw).__name__} {raw!r}")
    value = raw.strip()
    if not value:
        if spec.kind == "optstr":
            return None
        raise bad(where, "must not be empty")
    if spec.kind == "choice":
        value = value.lower()
        if value not in spec.choices:
            raise bad(where, f"must be one of {', '.join(spec.choices)}; got {raw!r}")
    return value


_REF = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")


def _refs(raw: object, where: str) -> tuple[str, ...]:
    """``module:Class`` references: comma-separated text, or a YAML list of strings."""
    items = raw.split(",") if isinstance(raw, str) else raw
    if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
        raise bad(where, f"expected module:Class references, got {raw!r}")
    refs = tuple(i.strip() for i in items if i.strip())
    for ref in refs:
        if not _REF.match(ref):
            raise bad(where, f"expected module:Class, got {ref!r}")
    return refs


def convert(spec: Spec, raw: object, where: str) -> Any:
    """Turn one raw value (string from flags/env, any YAML scalar from a file) into its type."""
    if raw is None:  # "key:" or "key: ~" in a file
        if spec.kind == "optstr":
            return None
        raise bad(where, "has no value")
    if spec.kind in ("float", "duration"):
        return _number(spec, raw, where)
    if spec.kind == "int":
        return _integer(spec, raw, where)
    if spec.kind == "bool":
        return _boolean(raw, where)
    if spec.kind == "refs":
        return _refs(raw, where)
    if spec.kind == "quantity":
        return _quantity(raw, where)
    return _string(spec, raw, where)


def _quantity(raw: object, where: str) -> str:
    """A positive Kubernetes quantity ("50m", "256Mi", 2), kept as its text."""
    text = str(raw).strip() if isinstance(raw, str | int) and not isinstance(raw, bool) else ""
    try:
        if parse_quantity(text) > 0:
            return text
    except QuantityError:
        pass
    raise bad(where, f"expected a positive quantity such as 50m or 256Mi, got {raw!r}")


def check_within(values: Mapping[str, Any], where: Mapping[str, str], request: str,
                 limit: str) -> None:
    """A quantity setting (a request) must not exceed another (its limit)."""
    if parse_quantity(values[request]) > parse_quantity(values[limit]):
        raise bad(where[request], f"{values[request]} is above the limit {values[limit]} "
                                  f"(from {where[limit]})")
