"""Label selectors, inter-pod affinity terms and the tenant pods they are matched against.

Owns the core/v1 rules the inter-pod plugins share: a LabelSelector
(matchLabels AND matchExpressions In/NotIn/Exists/DoesNotExist; an empty
selector matches every pod, a missing one none), a PodAffinityTerm (selector,
namespaces, topologyKey; matchLabelKeys merged into the selector from the
pod's own labels), and TenantPod, what the snapshot keeps of each of a
tenant's pods: its tenant, tenant namespace, labels and required
anti-affinity terms (needed for symmetry: an existing pod's anti-affinity
keeps new pods off its domain too).

Namespaces of a term: `namespaces` plus, for a namespaceSelector, the names it
pins with kubernetes.io/metadata.name; an empty namespaceSelector ({}) means
every namespace of the tenant; any other namespaceSelector (namespace labels
the scheduler does not see) is taken as every namespace of the tenant too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .labels import Requirement

NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
_OPERATORS = frozenset({"In", "NotIn", "Exists", "DoesNotExist"})


class AffinityError(ValueError):
    """A pod affinity term or selector the API would reject."""


@dataclass(frozen=True, slots=True)
class LabelSelector:
    requirements: tuple[Requirement, ...]  # labels.Requirement: In, NotIn, Exists...
    matches_nothing: bool = False  # a missing selector selects no pod

    def matches(self, labels: Mapping[str, str]) -> bool:
        if self.matches_nothing:
            return False
        return all(r.matches(labels.get(r.key)) for r in self.requirements)


NOTHING = LabelSelector((), matches_nothing=True)


def parse_label_selector(
    raw: Mapping[str, Any] | None,
    where: str,
    pod_labels: Mapping[str, str] | None = None,
    match_label_keys: Sequence[str] = (),
) -> LabelSelector:
    """matchLabelKeys add `key In (the pod's value)` for each key the pod has."""
    if raw is None:
        return NOTHING
    requirements = [
        Requirement(str(k), "In", frozenset({str(v)}))
        for k, v in (raw.get("matchLabels") or {}).items()
    ]
    for i, expression in enumerate(raw.get("matchExpressions") or ()):
        operator = str(expression.get("operator", ""))
        if operator not in _OPERATORS:
            raise AffinityError(f"{where}.matchExpressions[{i}]: unsupported operator {operator!r}")
        values = frozenset(str(v) for v in expression.get("values") or ())
        requirements.append(Requirement(str(expression.get("key", "")), operator, values))
    for key in match_label_keys:
        if pod_labels is not None and key in pod_labels:
            requirements.append(Requirement(key, "In", frozenset({pod_labels[key]})))
    return LabelSelector(tuple(requirements))


@dataclass(frozen=True, slots=True)
class PodAffinityTerm:
    selector: LabelSelector
    namespaces: frozenset[str] | None  # None: every namespace of the tenant
    topology_key: str
    weight: int = 0  # of a preferred term

    def matches(self, pod: TenantPod) -> bool:
        if self.namespaces is not None and pod.namespace not in self.namespaces:
            return False
        return self.selector.matches(pod.labels)


def _term_namespaces(raw: Mapping[str, Any], own_namespace: str) -> frozenset[str] | None:
    names = {str(n) for n in raw.get("namespaces") or ()}
    selector = raw.get("namespaceSelector")
    if selector is None:
        return frozenset(names or {own_namespace})
    pinned = (selector.get("matchLabels") or {}).get(NAMESPACE_NAME_LABEL)
    if pinned is not None and len(selector) == 1 and len(selector["matchLabels"]) == 1:
        return frozenset(names | {str(pinned)})
    return None


def parse_term(
    raw: Mapping[str, Any], where: str, namespace: str, labels: Mapping[str, str], weight: int = 0
) -> PodAffinityTerm:
    key = str(raw.get("topologyKey") or "")
    if not key:
        raise AffinityError(f"{where}.topologyKey: must not be empty")
    selector = parse_label_selector(
        raw.get("labelSelector"), f"{where}.labelSelector", labels, raw.get("matchLabelKeys") or ()
    )
    return PodAffinityTerm(selector, _term_namespaces(raw, namespace), key, weight)


def _section(spec: Mapping[str, Any], kind: str) -> Mapping[str, Any]:
    return (spec.get("affinity") or {}).get(kind) or {}


def required_terms(
    section: Mapping[str, Any], where: str, namespace: str, labels: Mapping[str, str]
) -> tuple[PodAffinityTerm, ...]:
    raw = section.get("requiredDuringSchedulingIgnoredDuringExecution") or ()
    where = f"{where}.requiredDuringSchedulingIgnoredDuringExecution"
    return tuple(parse_term(term, f"{where}[{i}]", namespace, labels) for i, term in enumerate(raw))


def preferred_terms(
    section: Mapping[str, Any], where: str, namespace: str, labels: Mapping[str, str]
) -> tuple[PodAffinityTerm, ...]:
    raw = section.get("preferredDuringSchedulingIgnoredDuringExecution") or ()
    where = f"{where}.preferredDuringSchedulingIgnoredDuringExecution"
    return tuple(
        parse_term(
            item.get("podAffinityTerm") or {},
            f"{where}[{i}].podAffinityTerm",
            namespace,
            labels,
            int(item.get("weight", 0)),
        )
        for i, item in enumerate(raw)
    )


@dataclass(frozen=True, slots=True)
class PodAffinity:
    """A pod's own inter-pod affinity terms."""

    required_affinity: tuple[PodAffinityTerm, ...]
    required_anti: tuple[PodAffinityTerm, ...]
    preferred_affinity: tuple[PodAffinityTerm, ...]
    preferred_anti: tuple[PodAffinityTerm, ...]


def pod_affinity(spec: Mapping[str, Any], namespace: str, labels: Mapping[str, str]) -> PodAffinity:
    """Raises AffinityError when a term is malformed."""
    affinity = _section(spec, "podAffinity")
    anti = _section(spec, "podAntiAffinity")
    where, anti_where = "spec.affinity.podAffinity", "spec.affinity.podAntiAffinity"
    return PodAffinity(
        required_terms(affinity, where, namespace, labels),
        required_terms(anti, anti_where, namespace, labels),
        preferred_terms(affinity, where, namespace, labels),
        preferred_terms(anti, anti_where, namespace, labels),
    )


@dataclass(frozen=True, slots=True)
class TenantPod:
    """What the inter-pod plugins know of one pod of a tenant."""

    tenant: str
    namespace: str  # the tenant's namespace, not the edge namespace
    labels: Mapping[str, str]
    required_anti: tuple[PodAffinityTerm, ...] = ()


def tenant_pod(
    tenant: str,
    namespace: str,
    labels: Mapping[str, str],
    required_anti: Sequence[Mapping[str, Any]] = (),
) -> TenantPod:
    """A TenantPod; required_anti: the pod's raw required anti-affinity terms (a term
    that does not parse is left out: the pod was admitted, its rule cannot be kept)."""
    terms = []
    for i, raw in enumerate(required_anti):
        try:
            terms.append(parse_term(raw, f"[{i}]", namespace, labels))
        except AffinityError:
            continue
    return TenantPod(tenant, namespace, dict(labels), tuple(terms))


def default_tenancy(pod: Mapping[str, Any]) -> TenantPod | None:
    """Every pod is tenant ""'s, in its own namespace (tests, benches, one-tenant use)."""
    metadata = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    anti = _section(spec, "podAntiAffinity").get("requiredDuringSchedulingIgnoredDuringExecution")
    return tenant_pod(
        "", str(metadata.get("namespace", "")), metadata.get("labels") or {}, anti or ()
    )
