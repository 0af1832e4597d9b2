"""Pure parsing and matching of label selectors as list requests carry them.

``app=web``, ``app==web``, ``tier!=db``, ``gpu``, ``!gpu``, ``env in (a,b)``,
``env notin (c)``, comma-separated (all must hold): what kubectl ``-l`` and the
HPA controller send.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

Matcher = Callable[[Mapping[str, str]], bool]
_SET = re.compile(r"^\s*(\S+?)\s+(in|notin)\s+\(([^)]*)\)\s*$")
_KEY = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?)$")


class SelectorError(ValueError):
    """A label selector that cannot be parsed; the message says which part."""


def _split(text: str) -> list[str]:
    """Splits on commas outside parentheses."""
    parts, depth, current = [], 0, ""
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return [p.strip() for p in parts if p.strip()]


def _key(text: str, whole: str) -> str:
    if not _KEY.match(text):
        raise SelectorError(f"invalid label key {text!r} in selector {whole!r}")
    return text


def _requirement(part: str, whole: str) -> Matcher:
    set_match = _SET.match(part)
    if set_match:
        key = _key(set_match[1], whole)
        values = frozenset(v.strip() for v in set_match[3].split(",") if v.strip())
        if set_match[2] == "in":
            return lambda labels: labels.get(key) in values
        return lambda labels: labels.get(key) not in values
    for op in ("!=", "==", "="):
        if op in part:
            key_text, value = (s.strip() for s in part.split(op, 1))
            key = _key(key_text, whole)
            if op == "!=":
                return lambda labels: labels.get(key) != value
            return lambda labels: labels.get(key) == value
    if part.startswith("!"):
        key = _key(part[1:].strip(), whole)
        return lambda labels: key not in labels
    key = _key(part, whole)
    return lambda labels: key in labels


def parse_selector(text: str | None) -> Matcher:
    """A predicate over labels; the empty selector matches everything."""
    requirements = [_requirement(part, text or "") for part in _split(text or "")]
    return lambda labels: all(req(labels) for req in requirements)
