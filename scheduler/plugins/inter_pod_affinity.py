"""InterPodAffinity (PreFilter, Filter, PreScore, Score): pod affinity and anti-affinity.

Owns kube-scheduler's InterPodAffinity over the tenant's own pods on every
edge cluster, the assumed ones included (so a burst of replicas respects the
rules too), for any topology key the nodes carry (kubernetes.io/hostname, the
zone, the region, fusionvc.io/edge-cluster...). Required terms filter:
- the pod's anti-affinity: no node in a domain holding a matching pod;
- existing pods' required anti-affinity (symmetry): no node in a domain of an
  existing pod whose term matches the new pod;
- the pod's affinity: a node with every term's topology key, in a domain holding
  a matching pod for each term; when no pod matches any term and the pod matches
  them all itself (the first replica of a group), any node with the keys.
Scores, as kube-scheduler's: per node, the sum over the topology domains it is
in of the weights of
- the pod's preferred terms matched by pods in that domain (anti-affinity
  subtracts);
- existing pods' terms that match the pod, for each existing pod in that
  domain: its required affinity terms (hardPodAffinityWeight, 1), its preferred
  affinity terms (+weight) and preferred anti-affinity terms (-weight);
scaled from the lowest (0) to the highest (100). Terms of existing pods match
the pod by their namespaces and namespaceSelector against the labels of the
pod's namespace (CycleState.namespace_labels).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..framework import (
    SKIP,
    CycleState,
    FilterPlugin,
    PreFilterPlugin,
    PreScorePlugin,
    ScorePlugin,
    StateKey,
    Status,
)
from ..nodearrays import BoolArray, IntArray, Slots, slots_of
from ..nodeinfo import NodeInfo
from ..podaffinity import (
    AffinityError,
    PodAffinity,
    PodAffinityTerm,
    TenantPod,
    pod_affinity,
)
from ..podinfo import PodInfo

AFFINITY_MISMATCH = Status.unschedulable("node(s) didn't match pod affinity rules")
ANTI_AFFINITY_MISMATCH = Status.unschedulable("node(s) didn't match pod anti-affinity rules")
EXISTING_ANTI_AFFINITY = Status.unschedulable(
    "node(s) didn't satisfy existing pods anti-affinity rules"
)

Domains = dict[str, set[str]]  # topology key -> values
TopologyScores = dict[tuple[str, str], int]  # (topology key, value) -> summed weight


@dataclass(slots=True)
class _Required:
    anti: Domains  # domains where the pod's own anti-affinity forbids it
    existing_anti: Domains  # domains existing pods' anti-affinity forbid
    affinity: tuple[tuple[str, set[str]], ...]  # per term: key, domains with a match
    affinity_anywhere: bool  # first of its group: any node with the keys


REQUIRED = StateKey[_Required]("interPodAffinity.required")
AFFINITY = StateKey[PodAffinity]("interPodAffinity.terms")
PREFERRED = StateKey[TopologyScores]("interPodAffinity.preferred")


def tenant_view(state: CycleState, pod: PodInfo) -> TenantPod:
    """The pod being scheduled as one of its tenant's pods."""
    metadata = pod.pod.get("metadata") or {}
    return TenantPod(state.tenant, str(metadata.get("namespace", "")), pod.labels)


def _domain(node: NodeInfo | None, key: str) -> str | None:
    return None if node is None else node.facts.labels.get(key)


def _forbidden_by_pod(state: CycleState, terms: Sequence[PodAffinityTerm]) -> Domains:
    snapshot, labels = state.snapshot, state.namespace_labels
    forbidden: Domains = defaultdict(set)
    for term in terms:
        for record in snapshot.tenant_pods.matching(state.tenant, term.selector):
            assert record.tenant is not None
            value = _domain(snapshot.node_of(record), term.topology_key)
            if value is not None and term.matches(record.tenant, labels):
                forbidden[term.topology_key].add(value)
    return forbidden


def _forbidden_by_existing(state: CycleState, me: TenantPod) -> Domains:
    snapshot, labels = state.snapshot, state.namespace_labels
    forbidden: Domains = defaultdict(set)
    for record in snapshot.tenant_pods.with_anti_affinity_for(me):
        assert record.tenant is not None
        node = snapshot.node_of(record)
        for term in record.tenant.required_anti:
            value = _domain(node, term.topology_key)
            if value is not None and term.matches(me, labels):
                forbidden[term.topology_key].add(value)
    return forbidden


def _affinity_domains(
    state: CycleState, me: TenantPod, terms: Sequence[PodAffinityTerm]
) -> tuple[tuple[tuple[str, set[str]], ...], bool]:
    snapshot, labels = state.snapshot, state.namespace_labels
    found: list[tuple[str, set[str]]] = [(term.topology_key, set()) for term in terms]
    any_match = False
    for term, (key, values) in zip(terms, found, strict=True):
        for record in snapshot.tenant_pods.matching(me.tenant, term.selector):
            assert record.tenant is not None
            if term.matches(record.tenant, labels):
                any_match = True
                value = _domain(snapshot.node_of(record), key)
                if value is not None:
                    values.add(value)
    anywhere = not any_match and all(term.matches(me, labels) for term in terms)
    return tuple(found), anywhere


def _score_own_terms(state: CycleState, pod: PodAffinity, scores: TopologyScores) -> None:
    """The pod's preferred terms, weighed by the pods in each domain that match them."""
    snapshot, labels = state.snapshot, state.namespace_labels
    weighted = [(t, t.weight) for t in pod.preferred_affinity] + [
        (t, -t.weight) for t in pod.preferred_anti
    ]
    for term, weight in weighted:
        for record in snapshot.tenant_pods.matching(state.tenant, term.selector):
            assert record.tenant is not None
            value = _domain(snapshot.node_of(record), term.topology_key)
            if value is not None and term.matches(record.tenant, labels):
                scores[(term.topology_key, value)] += weight


def _score_existing_terms(state: CycleState, me: TenantPod, scores: TopologyScores) -> None:
    """Existing pods' scoring terms that match the pod, in the domains of their nodes."""
    snapshot, labels = state.snapshot, state.namespace_labels
    for record in snapshot.tenant_pods.with_scoring_terms_for(me):
        assert record.tenant is not None
        node = snapshot.node_of(record)
        for term, weight in record.tenant.scoring:
            value = _domain(node, term.topology_key)
            if value is not None and term.matches(me, labels):
                scores[(term.topology_key, value)] += weight


class InterPodAffinity(PreFilterPlugin, FilterPlugin, PreScorePlugin, ScorePlugin):
    name = "interPodAffinity"
    order = 100
    weight = 2  # kube-scheduler's default

    def pre_filter(self, state: CycleState, pod: PodInfo) -> Status | None:
        me = tenant_view(state, pod)
        try:
            terms = pod_affinity(pod.spec, me.namespace, me.labels)
        except AffinityError as err:
            return Status.unresolvable(str(err))
        state.write(AFFINITY, terms)
        existing = _forbidden_by_existing(state, me)
        if not (terms.required_affinity or terms.required_anti or existing):
            return SKIP
        affinity, anywhere = _affinity_domains(state, me, terms.required_affinity)
        anti = _forbidden_by_pod(state, terms.required_anti)
        state.write(REQUIRED, _Required(anti, existing, affinity, anywhere))
        return None

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        required = state.read(REQUIRED)
        labels = node.facts.labels
        for key, values in required.existing_anti.items():
            if labels.get(key) in values:
                return EXISTING_ANTI_AFFINITY
        for key, values in required.anti.items():
            if labels.get(key) in values:
                return ANTI_AFFINITY_MISMATCH
        for key, values in required.affinity:
            value = labels.get(key)
            if value is None or not (required.affinity_anywhere or value in values):
                return AFFINITY_MISMATCH
        return None

    def filter_slots(self, state: CycleState, pod: PodInfo, slots: Slots) -> BoolArray:
        """filter() for many nodes at once, from the snapshot's label columns."""
        required = state.read(REQUIRED)
        arrays = state.snapshot.arrays
        fits = np.ones(len(slots), dtype=np.bool_)
        for domains in (required.existing_anti, required.anti):
            for key, values in domains.items():
                fits &= ~arrays.label_in(key, slots, values)
        for key, values in required.affinity:
            if required.affinity_anywhere:
                fits &= arrays.labels(key)[slots] != 0
            else:
                fits &= arrays.label_in(key, slots, values)
        return fits

    def pre_score(
        self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]
    ) -> Status | None:
        try:
            terms = state.read(AFFINITY)
        except KeyError:
            return SKIP  # PreFilter did not run (a profile without it) or failed
        own = terms.preferred_affinity or terms.preferred_anti
        if not own and not state.snapshot.tenant_pods.has_scoring_terms(state.tenant):
            return SKIP  # nothing weighs: every node scores the same
        scores: TopologyScores = defaultdict(int)
        _score_own_terms(state, terms, scores)
        _score_existing_terms(state, tenant_view(state, pod), scores)
        if not any(scores.values()):
            return SKIP  # every node scores the same
        state.write(PREFERRED, scores)
        return None

    def score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> list[int]:
        scores: list[int] = self.score_array(state, pod, nodes).tolist()
        return scores

    def normalize_score(self, state: CycleState, pod: PodInfo, scores: list[int]) -> None:
        min_max_normalize(scores)

    def score_array(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> IntArray:
        by_key: dict[str, dict[str, int]] = defaultdict(dict)
        for (key, value), weight in state.read(PREFERRED).items():
            by_key[key][value] = weight
        arrays = state.snapshot.arrays
        slots = slots_of(nodes)
        totals = np.zeros(len(slots), dtype=np.int64)
        for key, table in by_key.items():  # one per topology key, usually one
            totals += arrays.label_weights(key, slots, table)
        return totals

    def normalize_array(self, state: CycleState, pod: PodInfo, scores: IntArray) -> IntArray:
        """min_max_normalize() at array speed."""
        if not len(scores):
            return scores
        low, high = int(scores.min()), int(scores.max())
        if high == low:
            return np.zeros(len(scores), dtype=np.int64)
        return 100 * (scores - low) // (high - low)


def min_max_normalize(scores: list[int]) -> None:
    """Scale in place so the lowest score is 0 and the highest 100 (all 0 when equal)."""
    if not scores:
        return
    low, high = min(scores), max(scores)
    if high == low:
        scores[:] = [0] * len(scores)
        return
    scores[:] = [100 * (s - low) // (high - low) for s in scores]
