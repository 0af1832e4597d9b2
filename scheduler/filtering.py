"""The Filter phase of one scheduling cycle: groups, then shapes, then nodes.

Owns the hot loop over nodes, the early stop once enough feasible nodes were
found, the reuse of a shape filter's verdict for every shape of the same
kind, the per-reason node counts of an Unschedulable message (nodes the
tenant may not use are counted apart, in not_for_tenant) and the sampled
timing of the filter plugins.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from typing import TypeVar

from .framework import Code, CycleState, Status
from .nodeinfo import NodeGroup, NodeInfo
from .podinfo import PodInfo
from .shapes import NodeShape, ShapeKind

X = TypeVar("X")
Check = Callable[[CycleState, PodInfo, X], Status | None]


def _timed_check(
    check: Check[X], key: tuple[str, str], totals: dict[tuple[str, str], float]
) -> Check[X]:
    def timed(state: CycleState, pod: PodInfo, item: X) -> Status | None:
        started = time.perf_counter()
        try:
            return check(state, pod, item)
        finally:
            totals[key] += time.perf_counter() - started

    return timed


def _filter_nodes(
    state: CycleState,
    pod: PodInfo,
    nodes: Sequence[NodeInfo],
    checks: Sequence[Check[NodeInfo]],
    feasible: list[NodeInfo],
    reasons: Counter[str],
    limit: int,
) -> int:
    """Append the feasible nodes, stopping at `limit`; return how many nodes were looked at.

    The hot loop of the scheduler: keep it free of anything per-node but the checks.
    """
    wanted = limit - len(feasible)
    if len(checks) == 1:  # the common case (resources only): no inner loop per node
        return _filter_nodes_one_check(state, pod, nodes, checks[0], feasible, reasons, wanted)
    for index, node in enumerate(nodes):
        for check in checks:
            status = check(state, pod, node)
            if status is not None:
                for reason in status.reasons:
                    reasons[reason] += 1
                break
        else:
            feasible.append(node)
            wanted -= 1
            if not wanted:
                return index + 1
    return len(nodes)


def _filter_nodes_one_check(
    state: CycleState,
    pod: PodInfo,
    nodes: Sequence[NodeInfo],
    check: Check[NodeInfo],
    feasible: list[NodeInfo],
    reasons: Counter[str],
    wanted: int,
) -> int:
    append = feasible.append
    for index, node in enumerate(nodes):
        status = check(state, pod, node)
        if status is None:
            append(node)
            wanted -= 1
            if not wanted:
                return index + 1
        else:
            for reason in status.reasons:
                reasons[reason] += 1
    return len(nodes)


class FilterCycle:
    """The Filter phase of one cycle: groups, then shapes, then nodes, with early stop."""

    def __init__(
        self,
        state: CycleState,
        pod: PodInfo,
        to_find: int,
        group_checks: list[tuple[str, Check[NodeGroup]]],
        shape_checks: list[tuple[str, Check[NodeShape]]],
        node_checks: list[tuple[str, Check[NodeInfo]]],
        timed: bool,
    ) -> None:
        self.state = state
        self.pod = pod
        self.to_find = to_find
        self.timings: dict[tuple[str, str], float] = defaultdict(float)
        if timed:
            group_checks = self._timed(group_checks, "ClusterFilter")
            shape_checks = self._timed(shape_checks, "ShapeFilter")
            node_checks = self._timed(node_checks, "Filter")
        self.group_checks = [check for _, check in group_checks]
        self.shape_checks = [check for _, check in shape_checks]
        self.node_checks = [check for _, check in node_checks]
        self.feasible: list[NodeInfo] = []
        self.reasons: Counter[str] = Counter()
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

    def filter_group(self, group: NodeGroup) -> bool:
        """Filter one group; True once enough feasible nodes were found."""
        if self._rejected(self._first_failure(self.group_checks, group), group.size):
            return False
        for shape in group.shapes.values():
            if self._rejected(self._shape_verdict(shape), len(shape.nodes)):
                continue
            self.evaluated += _filter_nodes(
                self.state,
                self.pod,
                shape.nodes,
                self.node_checks,
                self.feasible,
                self.reasons,
                self.to_find,
            )
            if len(self.feasible) >= self.to_find:
                return True
        return False

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
        return True
