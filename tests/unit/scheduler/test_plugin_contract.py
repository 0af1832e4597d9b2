"""What the framework demands of a plugin, and what it does once per decision."""

from collections.abc import Sequence

import pytest

from scheduler import Profile, Scheduler, build_profile
from scheduler.framework import CycleState, FilterPlugin, ScorePlugin, Status
from scheduler.nodeinfo import NodeInfo
from scheduler.plugins import BUILTIN_PLUGINS
from scheduler.podinfo import PodInfo
from scheduler.policy import MODE_PRESETS
from scheduler.profile import DEFAULT_PLUGIN_ORDER

from .factories import node, pod, snapshot


def test_a_misspelt_extension_point_is_an_error_not_a_dropped_plugin() -> None:
    class Misspelt(FilterPlugin):
        name = "misspelt"
        order = 1

        def filtr(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
            return None

    with pytest.raises(TypeError, match="abstract"):
        Misspelt()  # type: ignore[abstract]


def test_a_score_plugin_without_a_weight_is_an_error() -> None:
    class Weightless(ScorePlugin):
        name = "weightless"
        order = 1

        def score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> list[int]:
            return [0] * len(nodes)

        def normalize_score(self, state: CycleState, pod: PodInfo, scores: list[int]) -> None:
            pass

    with pytest.raises(ValueError, match="'weightless' declares no weight"):
        Profile([Weightless()], {})
    assert Profile([Weightless()], {"weightless": 3}).weights["weightless"] == 3


def test_every_builtin_declares_order_and_weight_in_one_place() -> None:
    orders = [plugin.order for plugin in BUILTIN_PLUGINS]
    assert len(set(orders)) == len(orders)
    assert list(DEFAULT_PLUGIN_ORDER) == [
        p.name for p in sorted(BUILTIN_PLUGINS, key=lambda p: p.order)
    ]
    scorers = {p.name: p for p in BUILTIN_PLUGINS if issubclass(p, ScorePlugin)}
    assert set(MODE_PRESETS["balanced"]) == set(scorers)
    assert build_profile().weights == {name: p.weight for name, p in scorers.items()}
    assert MODE_PRESETS["latency-first"]["latency"] == 10
    assert MODE_PRESETS["cost-first"]["cost"] == 10


def test_assumptions_expire_once_per_decision() -> None:
    snap = snapshot({"c1": [node("n")]})
    calls = []
    expire = snap.expire_assumed

    def counted() -> int:
        calls.append(1)
        return expire()

    snap.expire_assumed = counted  # type: ignore[method-assign]
    scheduler = Scheduler(snap)
    result = scheduler.schedule(pod())
    snap.assume("c1", "n", pod(node_name="n"))
    assert result and len(calls) == 1
