"""The Filter phase of one scheduling cycle: groups, then shapes, then nodes.

Owns the walk over groups and shapes in visit order, the node filters run
chunk by chunk (array forms over the whole chunk at once, see
FilterPlugin.filter_slots; per node only for the plugins without one and to
ask a failed node's reasons), the early stop once enough feasible nodes were
found (exactly where a node-by-node walk would stop), the reuse of a shape
filter's verdict for every shape of the same kind, the per-reason node counts
of an Unschedulable message (nodes the tenant may not use are counted apart,
in not_for_tenant) and the sampled timing of the filter plugins.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from typing import ParamSpec, TypeVar

import numpy as np

from .framework import Code, CycleState, Status
from .groupplans import GroupPlan, GroupPlans, build_plan
from .nodearrays import BoolArray, Slots
from .nodeinfo import NodeGroup, NodeInfo
from .podinfo import PodInfo
from .shapes import NodeShape, ShapeKind

P = ParamSpec("P")
R = TypeVar("R")
X = TypeVar("X")
Check = Callable[[CycleState, PodInfo, X], Status | None]
ArrayCheck = Callable[[CycleState, PodInfo, Slots], BoolArray | None]
# A node filter: its name, its per-node form, its array form (None when it has none)
NodeCheck = tuple[str, Check[NodeInfo], ArrayCheck | None]


def _timed_check(
    check: Callable[P, R], key: tuple[str, str], totals: dict[tuple[str, str], float]
) -> Callable[P, R]:
    def timed(*args: P.args, **kwargs: P.kwargs) -> R:
        started = time.perf_counter()
        try:
            return check(*args, **kwargs)
        finally:
            totals[key] += time.perf_counter() - started

    return timed


class FilterCycle:
    """The Filter phase of one cycle: groups, then shapes, then nodes, with early stop."""

    def __init__(
        self,
        state: CycleState,
        pod: PodInfo,
        to_find: int,
        group_checks: list[tuple[str, Check[NodeGroup]]],
        shape_checks: list[tuple[str, Check[NodeShape]]],
        node_checks: list[NodeCheck],
        timed: bool,
    ) -> None:
        self.state = state
        self.pod = pod
        self.to_find = to_find
        self.timings: dict[tuple[str, str], float] = defaultdict(float)
        if timed:
            group_checks = self._timed(group_checks, "ClusterFilter")
            shape_checks = self._timed(shape_checks, "ShapeFilter")
            node_checks = [
                (name, _timed_check(check, ("Filter", name), self.timings),
                 None if fast is None else _timed_check(fast, ("Filter", name), self.timings))
                for name, check, fast in node_checks
            ]  # fmt: skip
        self.group_checks = [check for _, check in group_checks]
        self.shape_checks = [check for _, check in shape_checks]
        self.node_checks = [check for _, check, _ in node_checks]
        self.array_checks = [fast for _, _, fast in node_checks]
        self.feasible: list[NodeInfo] = []
        self.feasible_slots: list[Slots] = []
        self.reasons: Counter[str] = Counter()
        # Nodes an array form rejected, asked for their reasons only if nothing fits
        self._failed: list[tuple[list[NodeInfo], list[int]]] = []
        self.evaluated = 0
        self.not_for_tenant = 0  # nodes the tenant may not use: out of the message
        # The fleet has few distinct shape keys: judge each once per cycle.
        self.shape_verdicts: dict[ShapeKind, Status | None] = {}

    def _timed(self, checks: list[tuple[str, Check[X]]], point: str) -> list[tuple[str, Check[X]]]:
        return [(name, _timed_check(check, (point, name), self.timings)) for name, check in checks]

    def _first_failure(self, checks: Sequence[Check[X]], item: X) -> Status | None:
        for check in checks:
            status = check(self.state, self.pod, item)
            if status is not None:
                return status
        return None

    def _rejected(self, status: Status | None, nodes: int) -> bool:
        if status is None:
            return False
        if status.code is Code.NOT_FOR_TENANT:
            self.not_for_tenant += nodes
            return True
        for reason in status.reasons:
            self.reasons[reason] += nodes
        self.evaluated += nodes
        return True

    def _shape_verdict(self, shape: NodeShape) -> Status | None:
        verdicts = self.shape_verdicts
        kind = shape.kind
        if kind not in verdicts:
            verdicts[kind] = self._first_failure(self.shape_checks, shape)
        return verdicts[kind]

    def run(self, order: Iterable[NodeGroup], plans: GroupPlans) -> int:
        """Filter groups in order until to_find feasible nodes are found; returns how many
        groups were visited. The nodes of accepted groups (what their shapes leave, from
        `plans`) are gathered until they could hold the feasible nodes still wanted, then
        filtered together."""
        by_group = plans.for_cycle(self.state.snapshot, self._shape_verdict)
        visited = 0
        nodes: list[NodeInfo] = []
        parts: list[Slots] = []
        for group in order:
            visited += 1
            if self._rejected(self._first_failure(self.group_checks, group), group.size):
                continue
            plan = by_group.get(group)
            if plan is None:
                plan = by_group[group] = build_plan(group, self._shape_verdict)
            self._count_rejected(plan)
            if not plan.nodes:
                continue
            nodes += plan.nodes
            parts.append(plan.slots)
            if len(nodes) >= self.to_find - len(self.feasible):
                looked = self._filter_chunk(nodes, parts)
                if looked is not None:  # stopped within this group's nodes
                    self.evaluated -= plan.rejected_after(looked - len(nodes) + len(plan.nodes))
                    return visited
                nodes, parts = [], []
        if nodes:
            self._filter_chunk(nodes, parts)
        return visited

    def _count_rejected(self, plan: GroupPlan) -> None:
        self.not_for_tenant += plan.not_for_tenant
        self.evaluated += plan.rejected
        reasons = self.reasons
        for reason, count in plan.reasons:
            reasons[reason] += count

    def _filter_chunk(self, nodes: list[NodeInfo], parts: list[Slots]) -> int | None:
        """Filter nodes in order (`parts`: their numbers); once enough are feasible, how
        many nodes were looked at, else None."""
        slots = parts[0] if len(parts) == 1 else np.concatenate(parts)
        masks = [None if fast is None else fast(self.state, self.pod, slots)
                 for fast in self.array_checks]  # fmt: skip
        wanted = self.to_find - len(self.feasible)
        if all(mask is not None for mask in masks):
            chosen, looked = self._all_arrays(nodes, masks, wanted)
        else:
            chosen, looked = self._node_by_node(nodes, masks, wanted)
        self.evaluated += looked
        self.feasible += [nodes[i] for i in chosen]
        self.feasible_slots.append(slots[chosen])
        return looked if len(chosen) == wanted else None

    def _all_arrays(
        self, nodes: list[NodeInfo], masks: list[BoolArray | None], wanted: int
    ) -> tuple[list[int], int]:
        """Every node filter has an array form: only failed nodes are asked for reasons."""
        fits = np.ones(len(nodes), dtype=np.bool_)
        for mask in masks:
            if mask is not None:
                fits &= mask
        chosen = np.flatnonzero(fits)
        looked = len(nodes)
        if 0 < wanted <= len(chosen):
            chosen = chosen[:wanted]
            looked = int(chosen[-1]) + 1
        self._failed.append((nodes, np.flatnonzero(~fits[:looked]).tolist()))
        return chosen.tolist(), looked

    def all_reasons(self) -> Counter[str]:
        """Nodes per reason (each node under the reasons of the first filter it failed),
        the nodes array forms rejected included: asked now, for the message of a pod that
        fits nowhere (a cycle that places the pod never needs them)."""
        for nodes, failed in self._failed:
            for index in failed:
                status = self._first_failure(self.node_checks, nodes[index])
                if status is not None:
                    for reason in status.reasons:
                        self.reasons[reason] += 1
        self._failed = []
        return self.reasons

    def _node_by_node(
        self, nodes: list[NodeInfo], masks: list[BoolArray | None], wanted: int
    ) -> tuple[list[int], int]:
        """Some node filter has no array form: node by node, the arrays' verdicts looked up
        (a filter runs on a node only where its array form said no, for the reasons)."""
        verdicts = [None if mask is None else mask.tolist() for mask in masks]
        checks = list(zip(self.node_checks, verdicts, strict=True))
        state, pod, reasons = self.state, self.pod, self.reasons
        chosen: list[int] = []
        for index, node in enumerate(nodes):
            for check, fits in checks:
                if fits is not None and fits[index]:
                    continue
                status = check(state, pod, node)
                if status is not None:
                    for reason in status.reasons:
                        reasons[reason] += 1
                    break
            else:
                chosen.append(index)
                if len(chosen) == wanted:
                    return chosen, index + 1
        return chosen, len(nodes)

    def filter_node(self, node: NodeInfo) -> bool:
        """Filter one given node (spec.nodeName); True when it is feasible."""
        if self._rejected(self._first_failure(self.group_checks, node.group), 1):
            return False
        if self._rejected(self._shape_verdict(node.shape), 1):
            return False
        if self._rejected(self._first_failure(self.node_checks, node), 1):
            return False
        self.evaluated += 1
        self.feasible.append(node)
        self.feasible_slots.append(np.array([node.index_id], dtype=np.intp))
        return True
