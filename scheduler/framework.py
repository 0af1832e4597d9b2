"""The plugin framework, in the shape of kube-scheduler's.

Owns the extension-point base classes (PreFilter, ClusterFilter, ShapeFilter,
Filter, PreScore, Score with NormalizeScore, GroupScore) that plugins inherit,
the Status value plugins return instead of raising, and the per-cycle CycleState.

Differences from kube-scheduler, for speed in Python:
- Filter returns None for success (kube's nil *Status), a Status otherwise.
- Score is called once per cycle with all feasible nodes and returns one raw
  score per node; a call per node would be dominated by call overhead.
- ClusterFilter (fusionvc's) judges a whole NodeGroup (one edge cluster in one
  region) before any of its nodes; it runs before every node Filter.
- ShapeFilter (fusionvc's) judges a NodeShape, the nodes of a group that share
  arch, NoSchedule/NoExecute taints, readiness, cordon and the set of
  resources they have: static checks run once per shape, not once per node.
  A ShapeFilter must depend on the shape's key (and the pod, policy) only:
  its verdict is reused for every shape with the same key in the cycle.
  Filters run in the order cluster filters, shape filters, node filters (each
  in profile order); a node counts under the reasons of the first that fails.
- Filter and Score may also have an array form (filter_slots, score_array) that
  judges or scores every candidate at once from the snapshot's NodeArrays; the
  scheduler uses it when there is one. It must agree with the per-node form.
- GroupScore (fusionvc's) estimates a 0..100 score per NodeGroup, used to
  visit the most promising groups first when not every node is evaluated.
"""

from __future__ import annotations

import abc
import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar, cast

import numpy as np

from .nodearrays import BoolArray, IntArray, Slots
from .nodeinfo import NodeGroup, NodeInfo
from .podaffinity import NamespaceLabels, name_label_only
from .podinfo import PodInfo
from .shapes import NodeShape

if TYPE_CHECKING:
    from .policy import SchedulingPolicy
    from .snapshot import ClusterSnapshot

MAX_NODE_SCORE = 100
MIN_NODE_SCORE = 0

T = TypeVar("T")


class Code(enum.Enum):
    SUCCESS = "Success"
    UNSCHEDULABLE = "Unschedulable"
    # No node can ever fit while the pod or the policy stays as it is.
    UNSCHEDULABLE_AND_UNRESOLVABLE = "UnschedulableAndUnresolvable"
    SKIP = "Skip"  # from PreFilter/PreScore: this plugin has nothing to do for this pod
    # The node is not the tenant's to use (e.g. a cluster its policy does not allow):
    # it is left out of the node count and the reasons of an Unschedulable message.
    NOT_FOR_TENANT = "NotForTenant"
    ERROR = "Error"


@dataclass(frozen=True, slots=True)
class Status:
    code: Code
    reasons: tuple[str, ...] = ()

    @classmethod
    def unschedulable(cls, *reasons: str) -> Status:
        return cls(Code.UNSCHEDULABLE, reasons)

    @classmethod
    def unresolvable(cls, *reasons: str) -> Status:
        return cls(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, reasons)

    @classmethod
    def not_for_tenant(cls, *reasons: str) -> Status:
        return cls(Code.NOT_FOR_TENANT, reasons)

    @property
    def message(self) -> str:
        return ", ".join(self.reasons)


SKIP = Status(Code.SKIP)


class StateKey(Generic[T]):
    """A typed key into CycleState; one per plugin datum."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"StateKey({self.name!r})"


class CycleState:
    """What one scheduling cycle shares between its plugins."""

    __slots__ = ("_data", "_lookup", "_namespaces", "policy", "snapshot", "tenant")

    def __init__(
        self,
        snapshot: ClusterSnapshot,
        policy: SchedulingPolicy,
        tenant: str = "",
        namespace_labels: NamespaceLabels = name_label_only,
    ) -> None:
        self.snapshot = snapshot
        self.policy = policy
        self.tenant = tenant  # whose pods the inter-pod plugins look at
        self._data: dict[StateKey[Any], Any] = {}
        self._lookup = namespace_labels
        self._namespaces: dict[str, Mapping[str, str]] = {}

    def namespace_labels(self, namespace: str) -> Mapping[str, str]:
        """The labels of one of the tenant's namespaces (looked up once per cycle)."""
        labels = self._namespaces.get(namespace)
        if labels is None:
            labels = self._namespaces[namespace] = self._lookup(namespace)
        return labels

    def write(self, key: StateKey[T], value: T) -> None:
        self._data[key] = value

    def read(self, key: StateKey[T]) -> T:
        """Raises KeyError when the plugin's PreFilter/PreScore did not write it."""
        return cast(T, self._data[key])


class Plugin(abc.ABC):
    """Base of every plugin: a `name`, and `order`, its place in the default profile.

    A plugin inherits the extension points it implements (below): a misspelt
    method leaves an abstract one unimplemented, which fails at instantiation.
    """

    name: str
    # Position in the default profile (lower first); filters of one kind run in this
    # order, so it decides which reason a node counts under.
    order: ClassVar[int]


class PreFilterPlugin(Plugin):
    @abc.abstractmethod
    def pre_filter(self, state: CycleState, pod: PodInfo) -> Status | None:
        """Prepare per-pod data; SKIP skips this plugin's Filter, a failure rejects the pod."""


class ClusterFilterPlugin(Plugin):
    @abc.abstractmethod
    def filter_group(self, state: CycleState, pod: PodInfo, group: NodeGroup) -> Status | None:
        """None when the group's nodes may be considered; its reasons count once per node."""

    def for_tenant(self, policy: SchedulingPolicy, group: NodeGroup) -> bool:
        """May the tenant use the group's nodes at all? Those it may not are left out of
        the node count of a message (filter_group answers them with NOT_FOR_TENANT)."""
        return True


class ShapeFilterPlugin(Plugin):
    @abc.abstractmethod
    def filter_shape(self, state: CycleState, pod: PodInfo, shape: NodeShape) -> Status | None:
        """None when nodes of this shape may be considered; reasons count once per node."""


class FilterPlugin(Plugin):
    @abc.abstractmethod
    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        """None when the pod may run on the node."""

    def filter_slots(self, state: CycleState, pod: PodInfo, slots: Slots) -> BoolArray | None:
        """Optional array form: per node number (state.snapshot.arrays), True exactly where
        filter() returns None; the cycle asks filter() for the reasons of the others.
        None (the default): the plugin has no array form."""
        return None


class PreScorePlugin(Plugin):
    @abc.abstractmethod
    def pre_score(
        self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]
    ) -> Status | None:
        """Prepare per-pod scoring data; SKIP leaves this plugin out of the score."""


class ScorePlugin(Plugin):
    """Scores nodes. `weight`: its default weight (the balanced mode's); `mode_weights`:
    other weights by policy mode. A score plugin without a weight is a Profile error."""

    weight: ClassVar[int]
    mode_weights: ClassVar[Mapping[str, int]] = MappingProxyType({})

    @abc.abstractmethod
    def score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> list[int]:
        """One raw score per node, in order."""

    @abc.abstractmethod
    def normalize_score(self, state: CycleState, pod: PodInfo, scores: list[int]) -> None:
        """Rescale the raw scores in place to MIN_NODE_SCORE..MAX_NODE_SCORE."""

    def score_array(
        self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]
    ) -> IntArray | None:
        """Optional array form of score(): the raw scores. None (the default): the plugin
        has no array form."""
        return None

    def normalize_array(self, state: CycleState, pod: PodInfo, scores: IntArray) -> IntArray:
        """The array form of normalize_score() (by default normalize_score() on a list)."""
        rescaled: list[int] = scores.tolist()
        self.normalize_score(state, pod, rescaled)
        return np.array(rescaled, dtype=np.int64)


class GroupScorePlugin(Plugin):
    @abc.abstractmethod
    def score_groups(
        self, policy: SchedulingPolicy, groups: Sequence[NodeGroup]
    ) -> list[int] | None:
        """A 0..100 estimate of the best node score in each group; None: no opinion.

        It must depend on the policy and the snapshot layout only, not on the pod:
        the scheduler caches the ranking it makes from it.
        """


def default_normalize_score(scores: list[int], reverse: bool) -> None:
    """kube-scheduler's DefaultNormalizeScore: scale by the maximum, optionally reversed."""
    highest = max(scores, default=0)
    if highest == 0:
        if reverse:
            scores[:] = [MAX_NODE_SCORE] * len(scores)
        return
    if reverse:
        scores[:] = [MAX_NODE_SCORE - MAX_NODE_SCORE * raw // highest for raw in scores]
    else:
        scores[:] = [MAX_NODE_SCORE * raw // highest for raw in scores]
