"""A scheduling profile: which plugins run, in which order, with which weights.

Owns the plugins of a profile in order with their weights (each plugin
declares its default `order` and, if it scores, its `weight`), the sorting
of plugins by extension point, and
kube-scheduler's percentageOfNodesToScore rule: a cycle stops filtering once
it has found enough feasible nodes (adaptive: 50% minus 1% per 125 nodes, at
least 5% and at least 100 nodes), so that large fleets cost a bounded amount
per decision. A tenant policy's weights replace the profile's weight of the
plugins it names.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType

from .framework import (
    ClusterFilterPlugin,
    FilterPlugin,
    GroupScorePlugin,
    Plugin,
    PreFilterPlugin,
    PreScorePlugin,
    ScorePlugin,
    ShapeFilterPlugin,
)
from .plugins import BUILTIN_PLUGINS, default_registry
from .policy import DEFAULT_MODE, MODE_PRESETS
from .registry import Registry

# Cluster filters run first, then shape filters, then node filters; within
# each kind the plugins' `order` decides which reason a node counts under (the
# first filter that fails).
DEFAULT_PLUGIN_ORDER = tuple(p.name for p in sorted(BUILTIN_PLUGINS, key=lambda p: p.order))

ADAPTIVE = 0
_BASE_PERCENTAGE = 50
_MIN_PERCENTAGE = 5
_NODES_PER_PERCENT = 125


class Profile:
    """Plugins in order with their weights.

    percentage_of_nodes_to_score: 1..100, or ADAPTIVE (0) for kube-scheduler's
    adaptive rule; 100 evaluates every node.
    plugin_metrics_sample_percent: share of the cycles in which the filter
    plugins are timed one by one and the plugins' scores are range-checked
    (both cost more than the work they watch); 0 never.
    """

    def __init__(
        self,
        plugins: Sequence[Plugin],
        weights: Mapping[str, int],
        percentage_of_nodes_to_score: int = ADAPTIVE,
        min_feasible_nodes_to_find: int = 100,
        plugin_metrics_sample_percent: int = 10,
    ) -> None:
        names = [plugin.name for plugin in plugins]
        if len(set(names)) != len(names):
            raise ValueError(f"a plugin appears twice in {names}")
        if not 0 <= percentage_of_nodes_to_score <= 100:
            raise ValueError("percentage_of_nodes_to_score must be within 0..100")
        if any(weight < 0 for weight in weights.values()):
            raise ValueError("weights must be >= 0")
        weights = _with_default_weights(plugins, weights)
        self.plugins = tuple(plugins)
        self.weights = MappingProxyType(dict(weights))
        self.percentage_of_nodes_to_score = percentage_of_nodes_to_score
        self.min_feasible_nodes_to_find = min_feasible_nodes_to_find
        self.plugin_metrics_sample_percent = plugin_metrics_sample_percent
        self.pre_filters = [p for p in plugins if isinstance(p, PreFilterPlugin)]
        self.pre_filters_by_name = {p.name: p for p in self.pre_filters}
        self.cluster_filters = [p for p in plugins if isinstance(p, ClusterFilterPlugin)]
        self.shape_filters = [p for p in plugins if isinstance(p, ShapeFilterPlugin)]
        self.filters = [p for p in plugins if isinstance(p, FilterPlugin)]
        self.pre_scores = [p for p in plugins if isinstance(p, PreScorePlugin)]
        self.pre_scores_by_name = {p.name: p for p in self.pre_scores}
        self.scores = [p for p in plugins if isinstance(p, ScorePlugin)]
        # The plugins that override the optional array forms (see scheduler.framework).
        self.array_filters = [p for p in self.filters if _overrides(p, FilterPlugin.filter_slots)]
        self.array_scores = [p for p in self.scores if _overrides(p, ScorePlugin.score_array)]
        self.group_scores = [p for p in plugins if isinstance(p, GroupScorePlugin)]

    def score_plugin_names(self) -> frozenset[str]:
        return frozenset(p.name for p in self.scores)

    def weight(self, name: str, overrides: Mapping[str, int]) -> int:
        """The weight of score plugin `name`: the policy's if it names it, else the profile's."""
        weight = overrides.get(name)
        return self.weights[name] if weight is None else weight

    def num_feasible_nodes_to_find(self, num_all_nodes: int) -> int:
        """kube-scheduler's numFeasibleNodesToFind."""
        minimum = self.min_feasible_nodes_to_find
        if num_all_nodes < minimum or self.percentage_of_nodes_to_score == 100:
            return num_all_nodes
        percentage = self.percentage_of_nodes_to_score
        if percentage == ADAPTIVE:
            percentage = max(
                _BASE_PERCENTAGE - num_all_nodes // _NODES_PER_PERCENT, _MIN_PERCENTAGE
            )
        return max(num_all_nodes * percentage // 100, minimum)


def _overrides(plugin: Plugin, method: object) -> bool:
    """Does the plugin's class define its own `method` (not the base class's default)?"""
    name = getattr(method, "__name__", "")
    return getattr(type(plugin), name, method) is not method


def _with_default_weights(plugins: Sequence[Plugin], weights: Mapping[str, int]) -> dict[str, int]:
    """The given weights, and each other score plugin's own `weight`; none at all: an error."""
    result = dict(weights)
    for plugin in plugins:
        if isinstance(plugin, ScorePlugin | GroupScorePlugin) and plugin.name not in result:
            weight = getattr(plugin, "weight", None)
            if not isinstance(weight, int) or isinstance(weight, bool) or weight < 0:
                raise ValueError(f"score plugin {plugin.name!r} declares no weight")
            result[plugin.name] = weight
    return result


def build_profile(
    plugin_names: Sequence[str] = DEFAULT_PLUGIN_ORDER,
    weights: Mapping[str, int] = MODE_PRESETS[DEFAULT_MODE],
    registry: Registry | None = None,
    **settings: int,
) -> Profile:
    """A Profile of registered plugins; settings: the keyword settings of Profile."""
    registry = registry or default_registry()
    return Profile([registry.create(name) for name in plugin_names], weights, **settings)
