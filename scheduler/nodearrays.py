"""NodeArrays: the numbers of every node in numpy arrays, for filters and scores at C speed.

Owns, for one ClusterSnapshot, one row per node at the node's number
(NodeInfo.index_id, given by the snapshot's ImageIndex, reused after a node
goes): per resource name its allocatable and what is left free once the
counted pods (assumed ones included) are taken off, the non-zero cpu and
memory requests kube-scheduler's scores use, the node's price per hour (NaN
when it has none) and its NodeGroup's serial. NodeInfo stays the source of
truth: the snapshot writes a node's whole row when the node comes or changes
(write), NodeInfo.count() its counts after every pod counted or uncounted
(store_counts). A row left by a removed node is read by no one: no shape
lists it any more.

Also owns Candidates (the feasible nodes of a cycle with their numbers as an
array), slots_of() and group_runs(), the helpers the array forms of the
plugins share, and IntArray/FloatArray/BoolArray/Slots, their types.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from .resources import CPU, MEMORY

if TYPE_CHECKING:
    from .nodeinfo import NodeInfo

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
Slots = npt.NDArray[np.intp]  # node numbers (index_id), an index into every column

_INITIAL_ROWS = 1024
group_serials = itertools.count(1)  # NodeGroup's serial: never reused, unlike a group's id()


class Candidates(list["NodeInfo"]):
    """Nodes in cycle order with their numbers: what the scheduler passes to score plugins."""

    __slots__ = ("runs", "slots")

    def __init__(self, nodes: Sequence[NodeInfo], slots: Slots) -> None:
        super().__init__(nodes)
        self.slots = slots
        # group_runs() of these nodes: asked by more than one score plugin per cycle
        self.runs: tuple[list[int], IntArray] | None = None


def slots_of(nodes: Sequence[NodeInfo]) -> Slots:
    """The nodes' numbers (cached on Candidates, else read node by node)."""
    if isinstance(nodes, Candidates):
        return nodes.slots
    return np.fromiter((node.index_id for node in nodes), dtype=np.intp, count=len(nodes))


def group_runs(arrays: NodeArrays, nodes: Sequence[NodeInfo]) -> tuple[list[int], IntArray]:
    """Where each run of nodes of one NodeGroup starts, and the runs' lengths.

    Candidates come group by group: a per-group score is computed once per run
    and spread with np.repeat(run_scores, lengths). Computed once per Candidates (the
    callers only read what it returns).
    """
    if isinstance(nodes, Candidates) and nodes.runs is not None:
        return nodes.runs
    serials = arrays.group_serial[slots_of(nodes)]
    if not len(serials):
        return [], np.zeros(0, dtype=np.int64)
    starts = np.flatnonzero(serials[1:] != serials[:-1]) + 1
    bounds = np.concatenate(([0], starts, [len(serials)]))
    runs = bounds[:-1].tolist(), np.diff(bounds).astype(np.int64)
    if isinstance(nodes, Candidates):
        nodes.runs = runs
    return runs


class NodeArrays:
    """Per-node numbers in columns indexed by node number (see the module docstring)."""

    def __init__(self) -> None:
        self.rows = _INITIAL_ROWS
        self.allocatable: dict[str, IntArray] = {}
        self.free: dict[str, IntArray] = {}
        self.nonzero_cpu = np.zeros(self.rows, dtype=np.int64)
        self.nonzero_memory = np.zeros(self.rows, dtype=np.int64)
        self.price = np.full(self.rows, np.nan, dtype=np.float64)
        self.group_serial = np.zeros(self.rows, dtype=np.int64)
        self._row_nodes: list[NodeInfo | None] = [None] * self.rows  # last written per row
        # Per label key asked for: the id of each row's value (0: no such label)
        self._labels: dict[str, IntArray] = {}
        self._label_ids: dict[str, dict[str, int]] = {}
        for name in (CPU, MEMORY):
            self._add_column(name)

    def column(self, name: str) -> IntArray:
        """What is free of a resource on every node (zeros for a resource no node has)."""
        column = self.free.get(name)
        return self._add_column(name) if column is None else column

    def allocatable_of(self, name: str) -> IntArray:
        column = self.allocatable.get(name)
        if column is None:
            self._add_column(name)
            column = self.allocatable[name]
        return column

    def _add_column(self, name: str) -> IntArray:
        self.allocatable[name] = np.zeros(self.rows, dtype=np.int64)
        column = self.free[name] = np.zeros(self.rows, dtype=np.int64)
        return column

    def _grow(self, rows: int) -> None:
        new_rows = max(rows, 2 * self.rows)

        def grown(column: npt.NDArray[np.generic], fill: float = 0) -> npt.NDArray[np.generic]:
            bigger = np.full(new_rows, fill, dtype=column.dtype)
            bigger[: self.rows] = column
            return bigger

        for table in (self.allocatable, self.free):
            for name, column in table.items():
                table[name] = grown(column)  # type: ignore[assignment]
        self.nonzero_cpu = grown(self.nonzero_cpu)  # type: ignore[assignment]
        self.nonzero_memory = grown(self.nonzero_memory)  # type: ignore[assignment]
        self.price = grown(self.price, np.nan)  # type: ignore[assignment]
        self.group_serial = grown(self.group_serial)  # type: ignore[assignment]
        for key, column in self._labels.items():
            self._labels[key] = grown(column)  # type: ignore[assignment]
        self._row_nodes += [None] * (new_rows - self.rows)
        self.rows = new_rows

    def write(self, info: NodeInfo) -> None:
        """Write a node's whole row (it came or changed) and keep its counts written."""
        row = info.index_id
        if row >= self.rows:
            self._grow(row + 1)
        allocatable, free = info.facts.allocatable, info.free
        for name in allocatable.keys() | free.keys():
            if name not in self.free:
                self._add_column(name)
        for name, column in self.allocatable.items():
            column[row] = allocatable.get(name, 0)
            self.free[name][row] = free.get(name, 0)
        self.nonzero_cpu[row] = info.nonzero_cpu
        self.nonzero_memory[row] = info.nonzero_memory
        price = info.facts.price
        self.price[row] = np.nan if price is None else price
        self.group_serial[row] = info.group.serial
        labels = info.facts.labels
        for key, column in self._labels.items():
            column[row] = self._label_id(key, labels.get(key))
        self._row_nodes[row] = info
        info.arrays = self

    # -- labels ----------------------------------------------------------------------

    def _label_id(self, key: str, value: str | None) -> int:
        if value is None:
            return 0
        ids = self._label_ids[key]
        found = ids.get(value)
        if found is None:
            found = ids[value] = len(ids) + 1
        return found

    def labels(self, key: str) -> IntArray:
        """The id of every row's value of a label (0: none), a column kept from the first
        time a key is asked for."""
        column = self._labels.get(key)
        if column is None:
            self._label_ids[key] = {}
            column = np.zeros(self.rows, dtype=np.int64)
            for row, info in enumerate(self._row_nodes):
                if info is not None:
                    column[row] = self._label_id(key, info.facts.labels.get(key))
            self._labels[key] = column
        return column

    def label_in(self, key: str, slots: Slots, values: Iterable[str]) -> BoolArray:
        """Per node, does its value of label `key` belong to `values`?"""
        column = self.labels(key)
        ids = self._label_ids[key]
        wanted = [found for value in values if (found := ids.get(value)) is not None]
        if not wanted:
            return np.zeros(len(slots), dtype=np.bool_)
        if len(wanted) == 1:
            matches: BoolArray = column[slots] == wanted[0]
            return matches
        table = np.zeros(len(ids) + 1, dtype=np.bool_)
        table[wanted] = True
        return table[column[slots]]

    def label_weights(self, key: str, slots: Slots, weights: Mapping[str, int]) -> IntArray:
        """Per node, the weight of its value of label `key` (a node without the label
        weighs what the value "" does; a value not in `weights` 0)."""
        column = self.labels(key)
        ids = self._label_ids[key]
        table = np.zeros(len(ids) + 1, dtype=np.int64)
        table[0] = weights.get("", 0)
        for value, weight in weights.items():
            found = ids.get(value)
            if found is not None:
                table[found] = weight
        return table[column[slots]]

    def rows_matching(self, predicate: Callable[[NodeInfo], bool]) -> BoolArray:
        """Per row, does the node last written there satisfy `predicate`? (Valid until
        the snapshot's layout changes: a node written anew may change the answer.)"""
        return np.fromiter(
            (info is not None and predicate(info) for info in self._row_nodes),
            dtype=np.bool_,
            count=len(self._row_nodes),
        )

    # -- counts ----------------------------------------------------------------------

    def store_counts(self, info: NodeInfo, names: Iterable[str]) -> None:
        """Write what is free of the named resources, and the non-zero requests."""
        row, free = info.index_id, info.free
        columns = self.free
        for name in names:
            column = columns.get(name)
            if column is None:
                column = self._add_column(name)
            column[row] = free.get(name, 0)
        self.nonzero_cpu[row] = info.nonzero_cpu
        self.nonzero_memory[row] = info.nonzero_memory
