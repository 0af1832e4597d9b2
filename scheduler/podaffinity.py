"""Label selectors, inter-pod affinity terms and the tenant pods they are matched against.

Owns the core/v1 rules the inter-pod plugins share: a LabelSelector
(matchLabels AND matchExpressions In/NotIn/Exists/DoesNotExist; an empty
selector matches every pod, a missing one none), a PodAffinityTerm (selector,
namespaces, namespaceSelector, topologyKey; matchLabelKeys merged into the
selector from the pod's own labels), and TenantPod, what the snapshot keeps of
each of a tenant's pods: its tenant, tenant namespace, labels and its
inter-pod terms that bear on other pods (symmetry, as kube-scheduler: an
existing pod's required anti-affinity keeps new pods off its domain; its
required affinity and preferred terms weigh in the score of new pods).

Namespaces of a term, as kube-scheduler: a pod matches when its namespace is
in `namespaces` or its namespace's labels match `namespaceSelector` (absent:
no namespace; `{}`: every namespace of the tenant); with neither, the term's
own pod's namespace. Namespace labels come from a NamespaceLabels lookup
(the tenant's Namespace objects); without one, a namespace has only the label
every namespace carries, kubernetes.io/metadata.name.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
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
EVERYTHING = LabelSelector(())

NamespaceLabels = Callable[[str], Mapping[str, str]]  # tenant namespace -> its labels


def name_label_only(namespace: str) -> Mapping[str, str]:
    """The labels of a namespace when nothing else is known: the API server's name label."""
    return {NAMESPACE_NAME_LABEL: namespace}


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
    namespaces: frozenset[str]
    namespace_selector: LabelSelector  # NOTHING when the term has none
    topology_key: str
    weight: int = 0  # of a preferred term

    def matches(self, pod: TenantPod, namespace_labels: NamespaceLabels = name_label_only) -> bool:
        """Does `pod` (of the same tenant) match? namespace_labels: labels of its namespace."""
        if pod.namespace not in self.namespaces:
            by_labels = self.namespace_selector
            if by_labels.matches_nothing:
                return False
            if by_labels.requirements and not by_labels.matches(namespace_labels(pod.namespace)):
                return False
        return self.selector.matches(pod.labels)


def _term_namespaces(
    raw: Mapping[str, Any], own_namespace: str, where: str
) -> tuple[frozenset[str], LabelSelector]:
    names = frozenset(str(n) for n in raw.get("namespaces") or ())
    selector = raw.get("namespaceSelector")
    if selector is None:
        return names or frozenset({own_namespace}), NOTHING
    return names, parse_label_selector(selector, f"{where}.namespaceSelector")


def parse_term(
    raw: Mapping[str, Any], where: str, namespace: str, labels: Mapping[str, str], weight: int = 0
) -> PodAffinityTerm:
    key = str(raw.get("topologyKey") or "")
    if not key:
        raise AffinityError(f"{where}.topologyKey: must not be empty")
    selector = parse_label_selector(
        raw.get("labelSelector"), f"{where}.labelSelector", labels, raw.get("matchLabelKeys") or ()
    )
    namespaces, namespace_selector = _term_namespaces(raw, namespace, where)
    return PodAffinityTerm(selector, namespaces, namespace_selector, key, weight)


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


# kube-scheduler's hardPodAffinityWeight: what an existing pod's required affinity term
# that matches the new pod adds to the score of the nodes in its domain.
HARD_POD_AFFINITY_WEIGHT = 1
REQUIRED = "requiredDuringSchedulingIgnoredDuringExecution"
PREFERRED = "preferredDuringSchedulingIgnoredDuringExecution"

WeightedTerm = tuple[PodAffinityTerm, int]  # anti-affinity weighs negative


@dataclass(frozen=True, slots=True)
class TenantPod:
    """What the inter-pod plugins know of one pod of a tenant."""

    tenant: str
    namespace: str  # the tenant's namespace, not the edge namespace
    labels: Mapping[str, str]
    required_anti: tuple[PodAffinityTerm, ...] = ()
    # Its terms that weigh in other pods' scores: required affinity (hardPodAffinityWeight),
    # preferred affinity (+weight), preferred anti-affinity (-weight).
    scoring: tuple[WeightedTerm, ...] = ()


def _lenient(
    raw_terms: Sequence[Any], namespace: str, labels: Mapping[str, str], preferred: bool
) -> Iterator[PodAffinityTerm]:
    """The terms that parse (a pod already admitted: a rule that does not parse is left out)."""
    for i, raw in enumerate(raw_terms):
        if not isinstance(raw, Mapping):
            continue
        try:
            if preferred:
                weight = int(raw.get("weight", 0))
                yield parse_term(raw.get("podAffinityTerm") or {}, f"[{i}]", namespace, labels,
                                 weight)  # fmt: skip
            else:
                yield parse_term(raw, f"[{i}]", namespace, labels)
        except (AffinityError, TypeError, ValueError):
            continue


def tenant_pod(
    tenant: str,
    namespace: str,
    labels: Mapping[str, str],
    required_anti: Sequence[Mapping[str, Any]] = (),
    affinity: Mapping[str, Any] | None = None,
) -> TenantPod:
    """A TenantPod. required_anti: the pod's raw required anti-affinity terms; affinity: its
    `spec.affinity` (podAffinity's required and preferred terms, podAntiAffinity's preferred
    ones are read from it)."""
    pods = (affinity or {}).get("podAffinity") or {}
    anti = (affinity or {}).get("podAntiAffinity") or {}
    scoring = [
        *((t, HARD_POD_AFFINITY_WEIGHT) for t in _lenient(
            pods.get(REQUIRED) or (), namespace, labels, False)),
        *((t, t.weight) for t in _lenient(pods.get(PREFERRED) or (), namespace, labels, True)),
        *((t, -t.weight) for t in _lenient(anti.get(PREFERRED) or (), namespace, labels, True)),
    ]  # fmt: skip
    return TenantPod(
        tenant,
        namespace,
        dict(labels),
        tuple(_lenient(required_anti, namespace, labels, False)),
        tuple((t, w) for t, w in scoring if w),
    )


def default_tenancy(pod: Mapping[str, Any]) -> TenantPod | None:
    """Every pod is tenant ""'s, in its own namespace (tests, benches, one-tenant use)."""
    metadata = pod.get("metadata") or {}
    affinity = (pod.get("spec") or {}).get("affinity") or {}
    anti = (affinity.get("podAntiAffinity") or {}).get(REQUIRED)
    return tenant_pod(
        "",
        str(metadata.get("namespace", "")),
        metadata.get("labels") or {},
        anti or (),
        affinity,
    )
