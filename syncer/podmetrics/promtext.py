"""Pure parsing of the Prometheus text exposition format (version 0.0.4).

Only sample lines matter here: ``name{label="value",...} value [timestamp]``;
comments (``# HELP``/``# TYPE``) and blank lines are skipped, a malformed line is
skipped and counted. Label values may carry the escapes ``\\\\``, ``\\"``, ``\\n``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

Labels = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Sample:
    name: str
    labels: Labels
    value: float

    def label(self, key: str) -> str:
        return next((v for k, v in self.labels if k == key), "")


class ParseError(ValueError):
    pass


_ESCAPES = {"\\": "\\", '"': '"', "n": "\n"}


def _labels(text: str, start: int) -> tuple[Labels, int]:
    """Labels from text[start] == '{'; returns them and the index after '}'."""
    labels: list[tuple[str, str]] = []
    i = start + 1
    while True:
        while i < len(text) and text[i] in " ,":
            i += 1
        if i >= len(text):
            raise ParseError("unterminated labels")
        if text[i] == "}":
            return tuple(labels), i + 1
        eq = text.find("=", i)
        if eq < 0 or eq + 1 >= len(text) or text[eq + 1] != '"':
            raise ParseError("label without a quoted value")
        key, i, value = text[i:eq].strip(), eq + 2, []
        while i < len(text) and text[i] != '"':
            if text[i] == "\\" and i + 1 < len(text):
                value.append(_ESCAPES.get(text[i + 1], text[i + 1]))
                i += 2
            else:
                value.append(text[i])
                i += 1
        if i >= len(text):
            raise ParseError("unterminated label value")
        labels.append((key, "".join(value)))
        i += 1


def parse_value(text: str) -> float:
    special = {"+Inf": math.inf, "-Inf": -math.inf, "NaN": math.nan}
    if text in special:
        return special[text]
    try:
        return float(text)
    except ValueError as err:
        raise ParseError(f"bad value {text!r}") from err


def parse_line(line: str) -> Sample:
    brace = line.find("{")
    space = line.find(" ")
    if brace >= 0 and (space < 0 or brace < space):
        name = line[:brace]
        labels, end = _labels(line, brace)
        rest = line[end:].split()
    else:
        name, *rest = line.split()
        labels = ()
    if not name or not rest:
        raise ParseError("sample without a value")
    return Sample(name, labels, parse_value(rest[0]))


def parse_text(text: str) -> tuple[list[Sample], int]:
    """All well-formed samples, and how many lines were malformed."""
    samples: list[Sample] = []
    bad = 0
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        try:
            samples.append(parse_line(line))
        except ParseError:
            bad += 1
    return samples, bad
