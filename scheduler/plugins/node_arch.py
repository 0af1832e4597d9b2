"""NodeArch (PreFilter, ShapeFilter): a pod runs only on a CPU architecture it asked for.

Owns the architecture rule. The architectures a pod accepts come from its
nodeSelector or required node affinity on kubernetes.io/arch; a pod that
names none goes to DEFAULT_ARCHITECTURES (amd64) only, because most images
are single-arch and an arm64 node would fail them with "exec format error".
Tenants opt in to arm64 nodes by selecting them.
"""

from __future__ import annotations

from functools import lru_cache

from ..framework import SKIP, CycleState, PreFilterPlugin, ShapeFilterPlugin, StateKey, Status
from ..labels import SelectorError, mentions_key, required_node_selector, values_for_key
from ..nodeinfo import ARCH_LABEL
from ..podinfo import PodInfo
from ..shapes import NodeShape

BETA_ARCH_LABEL = "beta.kubernetes.io/arch"
DEFAULT_ARCHITECTURES = frozenset({"amd64"})
_ARCH_LABELS = (ARCH_LABEL, BETA_ARCH_LABEL)
WRONG_ARCH = Status.unschedulable("node(s) didn't match node arch")
UNSELECTED = StateKey[bool]("nodeArch.unselected")


@lru_cache(maxsize=64)
def _not_default(arch: str) -> Status:
    """For a pod that selects no architecture: say why, not that it asked for another."""
    default = "/".join(sorted(DEFAULT_ARCHITECTURES))
    return Status.unschedulable(
        f"node(s) were {arch}; a pod that selects no kubernetes.io/arch runs on {default} only"
    )


ARCHITECTURES = StateKey[frozenset[str]]("nodeArch.architectures")


class NodeArch(PreFilterPlugin, ShapeFilterPlugin):
    name = "nodeArch"
    order = 50

    def pre_filter(self, state: CycleState, pod: PodInfo) -> Status | None:
        try:
            selector = required_node_selector(pod.spec)
        except SelectorError:
            selector = None  # NodeAffinity's PreFilter reports it
        architectures = DEFAULT_ARCHITECTURES
        if selector is not None:
            pinned = values_for_key(selector, _ARCH_LABELS)
            if pinned is not None:
                architectures = pinned
            elif mentions_key(selector, _ARCH_LABELS):
                return SKIP  # e.g. NotIn or Exists: NodeAffinity applies it as written
        state.write(ARCHITECTURES, architectures)
        state.write(UNSELECTED, architectures is DEFAULT_ARCHITECTURES)
        return None

    def filter_shape(self, state: CycleState, pod: PodInfo, shape: NodeShape) -> Status | None:
        if shape.arch in state.read(ARCHITECTURES):
            return None
        return _not_default(shape.arch) if state.read(UNSELECTED) else WRONG_ARCH
