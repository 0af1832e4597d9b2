"""NodeAffinity (PreFilter, Filter, PreScore, Score): nodeSelector and node affinity.

Owns the pod's label-based placement against the tenant-visible labels of a
node (edge labels plus fusionvc.io/edge-cluster, the region, and
kubernetes.io/hostname set to its virtual node's name) and its tenant-visible
name for matchFields metadata.name (the virtual node's name, for every edge
node, whether or not its virtual node exists yet): the
nodeSelector and required affinity filter, the preferred terms score (sum of
the weights of the matching terms, scaled so the best node gets 100).
"""

from __future__ import annotations

from collections.abc import Sequence

from ..framework import (
    SKIP,
    CycleState,
    FilterPlugin,
    PreFilterPlugin,
    PreScorePlugin,
    ScorePlugin,
    StateKey,
    Status,
    default_normalize_score,
)
from ..labels import (
    NodeSelector,
    NodeSelectorTerm,
    SelectorError,
    preferred_terms,
    required_node_selector,
)
from ..nodearrays import BoolArray, Slots
from ..nodeinfo import NodeInfo
from ..podinfo import PodInfo

MISMATCH = Status.unschedulable("node(s) didn't match Pod's node affinity/selector")

REQUIRED = StateKey[NodeSelector]("nodeAffinity.required")
MAX_CACHED_SELECTORS = 64
PREFERRED = StateKey[tuple[tuple[int, NodeSelectorTerm], ...]]("nodeAffinity.preferred")


class NodeAffinity(PreFilterPlugin, FilterPlugin, PreScorePlugin, ScorePlugin):
    name = "nodeAffinity"
    order = 70
    weight = 2  # kube-scheduler's default

    def pre_filter(self, state: CycleState, pod: PodInfo) -> Status | None:
        try:
            selector = required_node_selector(pod.spec)
        except SelectorError as err:
            return Status.unresolvable(str(err))
        if selector is None:
            return SKIP
        state.write(REQUIRED, selector)
        return None

    def __init__(self) -> None:
        # Per snapshot layout and selector, which node rows match (labels only change
        # with the layout): a cycle reads its candidates' verdicts from there.
        self._matching: dict[tuple[int, NodeSelector], BoolArray] = {}

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        facts = node.facts
        selector = state.read(REQUIRED)
        return None if selector.matches(facts.labels, facts.visible_name) else MISMATCH

    def filter_slots(self, state: CycleState, pod: PodInfo, slots: Slots) -> BoolArray:
        selector = state.read(REQUIRED)
        snapshot = state.snapshot
        key = (snapshot.layout_version, selector)
        matching = self._matching.get(key)
        if matching is None:
            if len(self._matching) >= MAX_CACHED_SELECTORS:
                self._matching.clear()
            matching = self._matching[key] = snapshot.arrays.rows_matching(
                lambda info: selector.matches(info.facts.labels, info.facts.visible_name)
            )
        return matching[slots]

    def pre_score(
        self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]
    ) -> Status | None:
        try:
            terms = preferred_terms(pod.spec)
        except SelectorError:
            return SKIP  # a broken preference is no reason to refuse the pod
        if not terms:
            return SKIP
        state.write(PREFERRED, terms)
        return None

    def score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> list[int]:
        terms = state.read(PREFERRED)
        return [
            sum(
                weight
                for weight, term in terms
                if term.matches(n.facts.labels, n.facts.visible_name)
            )
            for n in nodes
        ]

    def normalize_score(self, state: CycleState, pod: PodInfo, scores: list[int]) -> None:
        default_normalize_score(scores, reverse=False)
