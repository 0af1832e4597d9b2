"""Node selectors and node affinity terms, compiled once per pod and matched against labels.

Owns the matching rules of core/v1 NodeSelector: terms are ORed, the
requirements of a term are ANDed, an empty term matches nothing; operators
In, NotIn, Exists, DoesNotExist, Gt, Lt on labels and In/NotIn on the field
metadata.name. Also owns the tenant-visible label set of an edge node.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

NODE_NAME_FIELD = "metadata.name"
_OPERATORS = frozenset({"In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"})
_FIELD_OPERATORS = frozenset({"In", "NotIn"})


class SelectorError(ValueError):
    """A node selector the API would reject (unknown operator, bad Gt/Lt value)."""


def _as_int(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class Requirement:
    key: str
    operator: str
    values: frozenset[str]
    bound: int | None = None  # the integer of Gt/Lt

    def matches(self, value: str | None) -> bool:
        """Does a label (or field) value, None when absent, satisfy the requirement?"""
        operator = self.operator
        if operator == "In":
            return value is not None and value in self.values
        if operator == "NotIn":
            return value is None or value not in self.values
        if operator == "Exists":
            return value is not None
        if operator == "DoesNotExist":
            return value is None
        number = _as_int(value)
        if number is None or self.bound is None:
            return False
        return number > self.bound if operator == "Gt" else number < self.bound


def _requirement(raw: Mapping[str, Any], allowed: frozenset[str], where: str) -> Requirement:
    key = str(raw.get("key", ""))
    operator = str(raw.get("operator", ""))
    values = [str(v) for v in raw.get("values") or ()]
    if operator not in allowed:
        raise SelectorError(f"{where}: unsupported operator {operator!r}")
    bound = None
    if operator in ("Gt", "Lt"):
        bound = _as_int(values[0]) if len(values) == 1 else None
        if bound is None:
            raise SelectorError(f"{where}: {operator} needs exactly one integer value")
    return Requirement(key, operator, frozenset(values), bound)


@dataclass(frozen=True, slots=True)
class NodeSelectorTerm:
    expressions: tuple[Requirement, ...]
    fields: tuple[Requirement, ...]

    def matches(self, labels: Mapping[str, str], node_name: str) -> bool:
        if not self.expressions and not self.fields:
            return False
        for requirement in self.expressions:
            if not requirement.matches(labels.get(requirement.key)):
                return False
        return all(requirement.matches(node_name) for requirement in self.fields)


def parse_term(raw: Mapping[str, Any], where: str) -> NodeSelectorTerm:
    expressions = tuple(
        _requirement(r, _OPERATORS, f"{where}.matchExpressions[{i}]")
        for i, r in enumerate(raw.get("matchExpressions") or ())
    )
    fields = tuple(
        _requirement(r, _FIELD_OPERATORS, f"{where}.matchFields[{i}]")
        for i, r in enumerate(raw.get("matchFields") or ())
    )
    for requirement in fields:
        if requirement.key != NODE_NAME_FIELD:
            raise SelectorError(f"{where}: unsupported field {requirement.key!r}")
    return NodeSelectorTerm(expressions, fields)


@dataclass(frozen=True, slots=True)
class NodeSelector:
    """A pod's required placement: nodeSelector labels AND any of the affinity terms."""

    labels: tuple[tuple[str, str], ...]
    terms: tuple[NodeSelectorTerm, ...] | None  # None: no required node affinity

    def matches(self, labels: Mapping[str, str], node_name: str) -> bool:
        for key, wanted in self.labels:
            if labels.get(key) != wanted:
                return False
        if self.terms is None:
            return True
        return any(term.matches(labels, node_name) for term in self.terms)


def required_node_selector(pod_spec: Mapping[str, Any]) -> NodeSelector | None:
    """The pod's nodeSelector and required node affinity, or None when it has neither."""
    node_selector = pod_spec.get("nodeSelector") or {}
    labels = tuple(sorted((str(k), str(v)) for k, v in node_selector.items()))
    node_affinity = (pod_spec.get("affinity") or {}).get("nodeAffinity") or {}
    required = node_affinity.get("requiredDuringSchedulingIgnoredDuringExecution")
    terms = None
    if required is not None:
        where = "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution"
        terms = tuple(
            parse_term(term, f"{where}.nodeSelectorTerms[{i}]")
            for i, term in enumerate(required.get("nodeSelectorTerms") or ())
        )
    if not labels and terms is None:
        return None
    return NodeSelector(labels, terms)


def preferred_terms(pod_spec: Mapping[str, Any]) -> tuple[tuple[int, NodeSelectorTerm], ...]:
    """The pod's preferred node affinity as (weight, term) pairs."""
    node_affinity = (pod_spec.get("affinity") or {}).get("nodeAffinity") or {}
    raw = node_affinity.get("preferredDuringSchedulingIgnoredDuringExecution") or ()
    where = "spec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution"
    return tuple(
        (int(item.get("weight", 0)), parse_term(item.get("preference") or {}, f"{where}[{i}]"))
        for i, item in enumerate(raw)
    )


def values_for_key(selector: NodeSelector, keys: Sequence[str]) -> frozenset[str] | None:
    """Label values a selector allows for any of `keys`, if it pins them with In or equality.

    None when the selector does not decide the key in every term (then any
    value may pass). Used to read a pod's CPU architecture from its selector.
    """
    for key, wanted in selector.labels:
        if key in keys:
            return frozenset({wanted})
    if not selector.terms:
        return None
    allowed: set[str] = set()
    for term in selector.terms:
        pinned = [r.values for r in term.expressions if r.key in keys and r.operator == "In"]
        if not pinned:
            return None
        allowed |= frozenset.intersection(*pinned)
    return frozenset(allowed)


def mentions_key(selector: NodeSelector, keys: Sequence[str]) -> bool:
    """Does any part of the selector constrain one of `keys`?"""
    if any(key in keys for key, _ in selector.labels):
        return True
    return any(
        requirement.key in keys for term in selector.terms or () for requirement in term.expressions
    )
