"""The scheduling cycle: PreFilter -> ClusterFilter -> ShapeFilter -> Filter -> PreScore ->
Score -> NormalizeScore -> weighted sum -> pick. Reserving the node (assume) and
binding are the caller's: ClusterSnapshot.assume(), then create the edge pod.

Owns the order in which nodes are visited: node groups ranked by the
GroupScore plugins (so that with percentageOfNodesToScore the nearest or
cheapest clusters are looked at first), ties rotated from cycle to cycle so
that equal nodes are evaluated fairly; and the selection of the best node
(ties broken at random, as kube-scheduler does).

A pod whose spec.nodeName is already set (by the tenant, or by its own
scheduler) is not placed but admitted, as a kubelet would: every filter runs
against exactly the edge node the tenant named (by its virtual node name); a
name that is no edge node's is refused at once (Unschedulable with
`unknown_node`). Nodes the tenant may not use (Code.NOT_FOR_TENANT) are
counted neither in "0/N nodes" nor among the reasons.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from itertools import chain
from typing import Any, ParamSpec, TypeVar

import numpy as np

from .filtering import FilterCycle
from .framework import (
    MAX_NODE_SCORE,
    MIN_NODE_SCORE,
    SKIP,
    CycleState,
    ScorePlugin,
    Status,
)
from .groupplans import GroupPlans
from .nodearrays import Candidates, IntArray
from .nodeinfo import NodeGroup, NodeInfo
from .observer import NoopObserver, SchedulerObserver
from .podaffinity import NamespaceLabels, name_label_only
from .podinfo import PodInfo
from .policy import DEFAULT_POLICY, SchedulingPolicy
from .profile import Profile, build_profile
from .quantity import QuantityError
from .result import (
    Placement,
    ScheduleResult,
    rejected_by_pre_filter,
    unknown_node,
    unschedulable,
)
from .snapshot import ClusterSnapshot

P = ParamSpec("P")
R = TypeVar("R")
X = TypeVar("X")
Check = Callable[[CycleState, PodInfo, X], Status | None]
Tiers = list[list[NodeGroup]] | None


def _rotated_tiers(tiers: list[list[NodeGroup]], start: int) -> Iterator[NodeGroup]:
    """Tier after tier; within a tier (equal rank) rotated by `start` for fairness."""
    for tier in tiers:
        offset = start % len(tier)
        yield from tier[offset:]
        yield from tier[:offset]


class SchedulingError(RuntimeError):
    """A plugin broke its contract (e.g. a score out of range)."""


class Scheduler:
    """Runs scheduling cycles over a ClusterSnapshot with a Profile of plugins."""

    def __init__(
        self,
        snapshot: ClusterSnapshot,
        profile: Profile | None = None,
        observer: SchedulerObserver | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.snapshot = snapshot
        self.profile = profile or build_profile()
        self.observer: SchedulerObserver = observer or NoopObserver()
        self._rng = rng or random.Random()
        self._next_start = 0
        self._cycles = 0
        self._timing = False  # this cycle's plugins are timed (_sampled(), once per cycle)
        self._tier_cache: dict[tuple[Any, ...], Tiers] = {}
        self._plans = GroupPlans()  # what the shape filters leave of each group

    def schedule(
        self,
        pod: Mapping[str, Any],
        policy: SchedulingPolicy = DEFAULT_POLICY,
        tenant: str = "",
        namespace_labels: NamespaceLabels = name_label_only,
    ) -> ScheduleResult:
        """Choose a node for the tenant pod (a dict in Kubernetes JSON form).

        tenant: whose pods the pod's inter-pod affinity and spread constraints count
        (the snapshot's tenancy names each pod's tenant). namespace_labels: the labels
        of the tenant's namespaces, for namespaceSelectors of inter-pod terms.
        """
        started = time.perf_counter()
        try:
            result = self._schedule(pod, policy, CycleState(
                self.snapshot, policy, tenant, namespace_labels))  # fmt: skip
        except Exception:
            self.observer.attempt("error", time.perf_counter() - started)
            raise
        outcome = "scheduled" if isinstance(result, Placement) else "unschedulable"
        self.observer.attempt(outcome, time.perf_counter() - started)
        return result

    def _schedule(
        self, pod: Mapping[str, Any], policy: SchedulingPolicy, state: CycleState
    ) -> ScheduleResult:
        snapshot = self.snapshot
        snapshot.expire_assumed()  # once per decision: assume() relies on it
        num_nodes, generation = snapshot.num_nodes, snapshot.generation
        self._cycles += 1
        self._timing = self._sampled()
        node_name = (pod.get("spec") or {}).get("nodeName")
        named = snapshot.node_by_visible_name(str(node_name)) if node_name else None
        if node_name and named is None:
            return unknown_node(str(node_name), generation)
        try:
            pod_info = PodInfo.from_pod(pod)
        except QuantityError as err:
            usable = 1 if named else self._usable_nodes(policy)
            return rejected_by_pre_filter(usable, f"invalid pod resources: {err}", generation)
        skipped: set[str] = set()
        for plugin in self.profile.pre_filters:
            status = self._timed(plugin.name, "PreFilter", plugin.pre_filter, state, pod_info)
            if status is SKIP:
                skipped.add(plugin.name)
            elif status is not None:
                usable = 1 if named else self._usable_nodes(policy)
                return rejected_by_pre_filter(usable, status.message, generation)
        cycle = self._filter_cycle(state, pod_info, skipped, 1 if named else num_nodes)
        if named is not None:
            cycle.filter_node(named)
        else:
            to_find = self.profile.num_feasible_nodes_to_find(num_nodes)
            cycle.to_find = to_find
            self._find_feasible(cycle, self._visit_order(policy, to_find < num_nodes))
        feasible, evaluated = cycle.feasible, cycle.evaluated
        if not feasible:
            usable = 1 if named else num_nodes - cycle.not_for_tenant
            return unschedulable(usable, cycle.all_reasons(), generation)
        candidates = Candidates(feasible, np.concatenate(cycle.feasible_slots))
        chosen, score = self._select(candidates, self._prioritize(state, pod_info, candidates))
        return Placement(
            chosen.cluster.name,
            chosen.facts.name,
            chosen.facts.region,
            score,
            len(feasible),
            evaluated,
        )

    def _select(self, nodes: list[NodeInfo], totals: IntArray) -> tuple[NodeInfo, int]:
        """The node with the highest total score, ties broken at random."""
        best = int(totals.max())
        ties = np.flatnonzero(totals == best).tolist()
        if len(ties) == 1:
            return nodes[ties[0]], best
        return nodes[self._rng.choice(ties)], best

    def _timed(
        self, name: str, point: str, call: Callable[P, R], *args: P.args, **kwargs: P.kwargs
    ) -> R:
        if not self._timing:  # as kube-scheduler: every point timed in sampled cycles only
            return call(*args, **kwargs)
        started = time.perf_counter()
        try:
            return call(*args, **kwargs)
        finally:
            self.observer.plugin(name, point, time.perf_counter() - started)

    def _sampled(self) -> bool:
        # Cycles 1, 1 + n, 1 + 2n...: a scheduler that has made a single decision has
        # timed its plugins once already, so their metrics exist from the first pod on.
        percent = self.profile.plugin_metrics_sample_percent
        return percent > 0 and (self._cycles - 1) % max(1, round(100 / percent)) == 0

    def _filter_cycle(
        self, state: CycleState, pod: PodInfo, skipped: set[str], to_find: int
    ) -> FilterCycle:
        profile = self.profile
        return FilterCycle(
            state,
            pod,
            to_find,
            [(p.name, p.filter_group) for p in profile.cluster_filters if p.name not in skipped],
            [(p.name, p.filter_shape) for p in profile.shape_filters if p.name not in skipped],
            [
                (p.name, p.filter, p.filter_slots if p in profile.array_filters else None)
                for p in profile.filters
                if p.name not in skipped
            ],
            self._timing,
        )

    def _find_feasible(self, cycle: FilterCycle, order: Iterable[NodeGroup]) -> None:
        """Filter node groups in order until cycle.to_find feasible nodes are found."""
        self._next_start += cycle.run(order, self._plans)
        for (point, name), seconds in cycle.timings.items():
            self.observer.plugin(name, point, seconds)

    def _usable_nodes(self, policy: SchedulingPolicy) -> int:
        """How many nodes the tenant may use at all (ClusterFilterPlugin.for_tenant)."""
        filters = self.profile.cluster_filters
        return sum(
            group.size
            for group in self.snapshot.node_groups()
            if all(plugin.for_tenant(policy, group) for plugin in filters)
        )

    def _visit_order(self, policy: SchedulingPolicy, partial: bool) -> Iterator[NodeGroup]:
        """Groups ranked by the GroupScore plugins when not every node will be looked at.

        Lazy: a cycle that stops early never pays for the groups it does not reach.
        """
        groups = self.snapshot.node_groups()
        if not groups:
            return iter(())
        start = self._next_start % len(groups)
        tiers = self._tiers(policy, groups) if partial else None
        if tiers is None:
            return chain(groups[start:], groups[:start])
        return _rotated_tiers(tiers, start)

    def _tiers(self, policy: SchedulingPolicy, groups: list[NodeGroup]) -> Tiers:
        """Groups by descending weighted GroupScore, cached per policy and snapshot layout."""
        weighted = [
            (p, self.profile.weight(p.name, policy.weights)) for p in self.profile.group_scores
        ]
        key = (
            self.snapshot.layout_version,
            policy.user_regions,
            tuple((p.name, w) for p, w in weighted),
        )
        if key in self._tier_cache:
            return self._tier_cache[key]
        if len(self._tier_cache) > 64:
            self._tier_cache.clear()
        ranks = [0] * len(groups)
        opinions = 0
        for plugin, weight in weighted:
            scores = plugin.score_groups(policy, groups) if weight else None
            if scores is not None:
                opinions += 1
                ranks = [rank + weight * score for rank, score in zip(ranks, scores, strict=True)]
        tiers: Tiers = None
        if opinions:
            by_rank: dict[int, list[NodeGroup]] = {}
            for group, rank in zip(groups, ranks, strict=True):
                by_rank.setdefault(rank, []).append(group)
            tiers = [by_rank[rank] for rank in sorted(by_rank, reverse=True)]
        self._tier_cache[key] = tiers
        return tiers

    def _prioritize(self, state: CycleState, pod: PodInfo, nodes: Candidates) -> IntArray:
        """The weighted sum of the normalized scores of every score plugin, per node."""
        totals = np.zeros(len(nodes), dtype=np.int64)
        if len(nodes) == 1:
            return totals  # nothing to compare, as in kube-scheduler
        sampled = self._timing
        pre_scores = self.profile.pre_scores_by_name
        for plugin in self.profile.scores:
            weight = self.profile.weight(plugin.name, state.policy.weights)
            pre_score = pre_scores.get(plugin.name)
            if weight == 0:
                continue
            if pre_score is not None:
                status = self._timed(
                    plugin.name, "PreScore", pre_score.pre_score, state, pod, nodes
                )
                if status is SKIP:
                    continue
                if status is not None:
                    raise SchedulingError(f"PreScore of {plugin.name}: {status.message}")
            scores = self._scores(plugin, state, pod, nodes)
            # The range check costs as much as a small plugin: only in sampled cycles.
            if sampled and not MIN_NODE_SCORE <= scores.min() <= scores.max() <= MAX_NODE_SCORE:
                raise SchedulingError(f"{plugin.name} returned scores outside 0..100")
            totals += scores if weight == 1 else weight * scores
        return totals

    def _scores(
        self, plugin: ScorePlugin, state: CycleState, pod: PodInfo, nodes: Candidates
    ) -> IntArray:
        """A plugin's normalized scores: its array form if it has one, else score() and
        normalize_score()."""
        if plugin in self.profile.array_scores:
            array = self._timed(plugin.name, "Score", plugin.score_array, state, pod, nodes)
            if array is not None:
                if len(array) != len(nodes):
                    raise SchedulingError(f"{plugin.name} returned {len(array)} scores")
                normalize = plugin.normalize_array
                return self._timed(plugin.name, "NormalizeScore", normalize, state, pod, array)
        scores = self._timed(plugin.name, "Score", plugin.score, state, pod, nodes)
        self._timed(plugin.name, "NormalizeScore", plugin.normalize_score, state, pod, scores)
        if len(scores) != len(nodes):
            raise SchedulingError(f"{plugin.name} returned {len(scores)} scores")
        return np.array(scores, dtype=np.int64)
