"""Node taints and pod tolerations: parsing and the toleration rule of the core/v1 API.

Owns ToleratesTaint: a toleration with an empty key and operator Exists
tolerates everything; an empty effect tolerates every effect; operator Equal
(the default) also compares the value.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

NO_SCHEDULE = "NoSchedule"
NO_EXECUTE = "NoExecute"
PREFER_NO_SCHEDULE = "PreferNoSchedule"


@dataclass(frozen=True, slots=True)
class Taint:
    key: str
    value: str
    effect: str

    def describe(self) -> str:
        """kube-scheduler's wording: {key: value}."""
        return f"{{{self.key}: {self.value}}}"


@dataclass(frozen=True, slots=True)
class Toleration:
    key: str
    operator: str
    value: str
    effect: str

    def tolerates(self, taint: Taint) -> bool:
        if self.effect and self.effect != taint.effect:
            return False
        if self.key and self.key != taint.key:
            return False
        if self.operator == "Exists":
            return True
        return self.operator in ("", "Equal") and self.value == taint.value


def parse_taints(raw: Iterable[Mapping[str, Any]] | None) -> tuple[Taint, ...]:
    return tuple(
        Taint(str(t.get("key", "")), str(t.get("value", "")), str(t.get("effect", "")))
        for t in raw or ()
    )


def parse_tolerations(raw: Iterable[Mapping[str, Any]] | None) -> tuple[Toleration, ...]:
    return tuple(
        Toleration(
            str(t.get("key", "")),
            str(t.get("operator", "")),
            str(t.get("value", "")),
            str(t.get("effect", "")),
        )
        for t in raw or ()
    )


def is_tolerated(taint: Taint, tolerations: Sequence[Toleration]) -> bool:
    return any(toleration.tolerates(taint) for toleration in tolerations)


def untolerated(
    taints: Sequence[Taint], tolerations: Sequence[Toleration], tolerable: frozenset[str]
) -> Taint | None:
    """The first taint whose key is not in `tolerable` (the platform's) or that no
    toleration tolerates, or None."""
    for taint in taints:
        if taint.key not in tolerable or not is_tolerated(taint, tolerations):
            return taint
    return None
