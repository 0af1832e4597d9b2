"""PodTopologySpread (PreFilter, Filter, PreScore, Score): the pod's topologySpreadConstraints.

Owns kube-scheduler's PodTopologySpread over the tenant's own pods of the
pod's namespace on every edge cluster, assumed pods included (see
scheduler.topology for domains, counting, minDomains and the node inclusion
policies). DoNotSchedule constraints filter: a node without the topology key
is out, and so is a node whose domain would exceed maxSkew over the global
minimum once the pod is placed. ScheduleAnyway constraints score: the fewer
matching pods in the node's domains, the better (a node without the key
scores lowest).
"""

from __future__ import annotations

from collections.abc import Sequence

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
from ..nodearrays import BoolArray, Slots
from ..nodeinfo import NodeInfo
from ..podaffinity import AffinityError
from ..podinfo import PodInfo
from ..topology import DomainCache, DomainCounts, count_domains, spread_constraints
from .inter_pod_affinity import min_max_normalize

MISSING_LABEL = Status.unschedulable(
    "node(s) didn't match pod topology spread constraints (missing required label)"
)
SKEWED = Status.unschedulable("node(s) didn't match pod topology spread constraints")

HARD = StateKey[tuple[DomainCounts, ...]]("podTopologySpread.hard")
SOFT = StateKey[tuple[DomainCounts, ...]]("podTopologySpread.soft")


def _namespace(pod: PodInfo) -> str:
    return str((pod.pod.get("metadata") or {}).get("namespace", ""))


class PodTopologySpread(PreFilterPlugin, FilterPlugin, PreScorePlugin, ScorePlugin):
    name = "podTopologySpread"
    order = 90
    weight = 2  # kube-scheduler's default

    def __init__(self) -> None:
        self._domains: DomainCache = {}

    def _counts(self, state: CycleState, pod: PodInfo, hard: bool) -> tuple[DomainCounts, ...]:
        """The domain counts of the pod's DoNotSchedule (hard) or ScheduleAnyway constraints."""
        if not pod.spec.get("topologySpreadConstraints"):
            return ()
        constraints = [c for c in spread_constraints(pod.spec, pod.labels) if c.hard == hard]
        namespace = _namespace(pod)
        return tuple(count_domains(state, pod, namespace, c, self._domains) for c in constraints)

    def pre_filter(self, state: CycleState, pod: PodInfo) -> Status | None:
        try:
            hard = self._counts(state, pod, hard=True)
        except AffinityError as err:
            return Status.unresolvable(str(err))
        if not hard:
            return SKIP
        state.write(HARD, hard)
        return None

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        labels = node.facts.labels
        for counts in state.read(HARD):
            value = labels.get(counts.constraint.topology_key)
            if value is None:
                return MISSING_LABEL
            if not counts.skew_ok(value):
                return SKEWED
        return None

    def filter_slots(self, state: CycleState, pod: PodInfo, slots: Slots) -> BoolArray | None:
        """filter() for many nodes at once: a node fails where its domain already holds
        more than max_skew - self_match + minimum matching pods (others hold none)."""
        arrays = state.snapshot.arrays
        fits = np.ones(len(slots), dtype=np.bool_)
        for counts in state.read(HARD):
            key = counts.constraint.topology_key
            fits &= arrays.labels(key)[slots] != 0
            limit = counts.constraint.max_skew - counts.self_match + counts.minimum
            if limit < 0:
                return None  # even an empty domain is too full: node by node
            full = [value for value, count in counts.placed.items() if count > limit]
            if full:
                fits &= ~arrays.label_in(key, slots, full)
        return fits

    def pre_score(
        self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]
    ) -> Status | None:
        try:
            soft = self._counts(state, pod, hard=False)
        except AffinityError:
            return SKIP  # PreFilter rejected the pod already
        if not soft:
            return SKIP
        state.write(SOFT, soft)
        return None

    def score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> list[int]:
        all_counts = state.read(SOFT)
        worst = 1 + sum(max(c.counts.values(), default=0) for c in all_counts)
        raw = []
        for node in nodes:
            labels = node.facts.labels
            total = 0
            for counts in all_counts:
                value = labels.get(counts.constraint.topology_key)
                total += worst if value is None else counts.counts[value]
            raw.append(total)
        return raw

    def normalize_score(self, state: CycleState, pod: PodInfo, scores: list[int]) -> None:
        min_max_normalize(scores)
        scores[:] = [100 - score for score in scores]  # fewer pods is better
