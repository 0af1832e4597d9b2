"""Pod topology spread constraints: parsing, and counting a tenant's pods per domain.

Owns the core/v1 TopologySpreadConstraint rules the PodTopologySpread plugin
applies: maxSkew, topologyKey, whenUnsatisfiable (DoNotSchedule filters,
ScheduleAnyway scores), labelSelector with matchLabelKeys, minDomains (fewer
eligible domains than that: the global minimum counts as 0),
nodeAffinityPolicy (Honor, the default: only nodes that match the pod's
nodeSelector and required node affinity count as domains and their pods are
counted) and nodeTaintsPolicy (Ignore, the default; Honor: only nodes whose
taints the pod may tolerate, by the tenant's and the cluster's
tolerableTaints). Domains are the values of the topology key on
the nodes the tenant may use (its policy's allowed locations); pods counted
are the tenant's pods of the pod's own namespace, assumed ones included.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .labels import NodeSelector, SelectorError, required_node_selector
from .location import location_allows
from .nodeinfo import NodeInfo
from .podaffinity import AffinityError, LabelSelector, parse_label_selector
from .taints import untolerated

if TYPE_CHECKING:
    from .framework import CycleState
    from .podinfo import PodInfo

DO_NOT_SCHEDULE = "DoNotSchedule"
SCHEDULE_ANYWAY = "ScheduleAnyway"
HONOR, IGNORE = "Honor", "Ignore"


@dataclass(frozen=True, slots=True)
class SpreadConstraint:
    max_skew: int
    topology_key: str
    hard: bool  # DoNotSchedule
    selector: LabelSelector
    min_domains: int
    honor_node_affinity: bool
    honor_taints: bool


def _choice(
    raw: Mapping[str, Any], key: str, default: str, allowed: Sequence[str], where: str
) -> str:
    value = str(raw.get(key) or default)
    if value not in allowed:
        raise AffinityError(f"{where}.{key}: must be one of {', '.join(allowed)}, got {value!r}")
    return value


def _constraint(raw: Mapping[str, Any], where: str, labels: Mapping[str, str]) -> SpreadConstraint:
    max_skew = raw.get("maxSkew")
    if isinstance(max_skew, bool) or not isinstance(max_skew, int) or max_skew < 1:
        raise AffinityError(f"{where}.maxSkew: must be an integer >= 1, got {max_skew!r}")
    key = str(raw.get("topologyKey") or "")
    if not key:
        raise AffinityError(f"{where}.topologyKey: must not be empty")
    when = _choice(raw, "whenUnsatisfiable", "", (DO_NOT_SCHEDULE, SCHEDULE_ANYWAY), where)
    min_domains = raw.get("minDomains") or 1
    if isinstance(min_domains, bool) or not isinstance(min_domains, int) or min_domains < 1:
        raise AffinityError(f"{where}.minDomains: must be an integer >= 1, got {min_domains!r}")
    return SpreadConstraint(
        max_skew,
        key,
        when == DO_NOT_SCHEDULE,
        parse_label_selector(
            raw.get("labelSelector"),
            f"{where}.labelSelector",
            labels,
            raw.get("matchLabelKeys") or (),
        ),
        min_domains,
        _choice(raw, "nodeAffinityPolicy", HONOR, (HONOR, IGNORE), where) == HONOR,
        _choice(raw, "nodeTaintsPolicy", IGNORE, (HONOR, IGNORE), where) == HONOR,
    )


def spread_constraints(
    spec: Mapping[str, Any], labels: Mapping[str, str]
) -> tuple[SpreadConstraint, ...]:
    """Raises AffinityError when a constraint is malformed."""
    where = "spec.topologySpreadConstraints"
    return tuple(
        _constraint(raw, f"{where}[{i}]", labels)
        for i, raw in enumerate(spec.get("topologySpreadConstraints") or ())
    )


@dataclass(slots=True)
class DomainCounts:
    """Matching pods per domain of one constraint, and the global minimum to skew against."""

    constraint: SpreadConstraint
    counts: Counter[str]
    minimum: int
    self_match: int  # 1 when the pod being placed matches the constraint's own selector
    # The domains with matching pods (the others count 0): fewer than `counts` holds.
    placed: Counter[str] = field(default_factory=Counter)

    def skew_ok(self, value: str) -> bool:
        return self.counts[value] + self.self_match - self.minimum <= self.constraint.max_skew


def _node_selector(pod: PodInfo) -> NodeSelector | None:
    try:
        return required_node_selector(pod.spec)
    except SelectorError:
        return None  # NodeAffinity's PreFilter reports it


class _Eligibility:
    """Which nodes count as domains for a constraint (per the inclusion policies)."""

    def __init__(self, state: CycleState, pod: PodInfo, constraint: SpreadConstraint) -> None:
        self.selector = _node_selector(pod) if constraint.honor_node_affinity else None
        self.pod = pod
        self.state = state
        self.honor_taints = constraint.honor_taints

    def __call__(self, node: NodeInfo) -> bool:
        facts = node.facts
        if self.selector is not None and not self.selector.matches(
            facts.labels, facts.visible_name
        ):
            return False
        if self.honor_taints:
            tolerable = self.state.policy.tolerable_taints | node.cluster.tolerable_taints
            return untolerated(facts.hard_taints, self.pod.tolerations, tolerable) is None
        return True


DomainCache = dict[tuple[Any, ...], frozenset[str]]


def eligible_domains(
    state: CycleState, pod: PodInfo, constraint: SpreadConstraint, cache: DomainCache
) -> tuple[frozenset[str], _Eligibility]:
    """The topology key's values on the eligible nodes; cached per snapshot layout,
    policy, node selector and (when taints count) tolerations."""
    eligible = _Eligibility(state, pod, constraint)
    key = constraint.topology_key
    policy = state.policy
    cache_key = (
        state.snapshot.layout_version,
        key,
        policy.allowed_clusters,
        policy.allowed_regions,
        policy.max_latency_ms,
        policy.user_regions,
        eligible.selector,
        (pod.tolerations, policy.tolerable_taints) if eligible.honor_taints else None,
    )
    cached = cache.get(cache_key)
    if cached is not None:
        return cached, eligible
    if len(cache) > 256:
        cache.clear()
    domains: set[str] = set()
    for group in state.snapshot.node_groups():
        if not location_allows(state.policy, group):
            continue
        for shape in group.shapes.values():
            for node in shape.nodes:
                value = node.facts.labels.get(key)
                if value is not None and value not in domains and eligible(node):
                    domains.add(value)
    result = cache[cache_key] = frozenset(domains)
    return result, eligible


def count_domains(
    state: CycleState,
    pod: PodInfo,
    namespace: str,
    constraint: SpreadConstraint,
    cache: DomainCache,
) -> DomainCounts:
    domains, eligible = eligible_domains(state, pod, constraint, cache)
    placed: Counter[str] = Counter()
    snapshot = state.snapshot
    key = constraint.topology_key
    for record in snapshot.tenant_pods.matching(state.tenant, constraint.selector):
        view = record.tenant
        if view is None or view.namespace != namespace:
            continue
        if not constraint.selector.matches(view.labels):
            continue
        node = snapshot.node_of(record)
        value = None if node is None else node.facts.labels.get(key)
        if value in domains and node is not None and eligible(node):
            placed[value] += 1
    counts: Counter[str] = Counter(dict.fromkeys(domains, 0))
    counts.update(placed)
    too_few = len(domains) < constraint.min_domains
    minimum = 0 if too_few or not counts else min(counts.values())
    self_match = int(constraint.selector.matches(pod.labels))
    return DomainCounts(constraint, counts, minimum, self_match, placed)
