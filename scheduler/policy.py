"""A tenant's scheduling policy: the `scheduling` section of the Tenant spec, validated.

Owns the modes and their preset weights, the resource strategies, and
parse_policy(), whose errors name the offending field
(e.g. "spec.scheduling.weights.latency: must be >= 0, got -1").
"""

from __future__ import annotations

import enum
import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

FIELD = "spec.scheduling"


class ResourceStrategy(enum.Enum):
    # Spread load: prefer the emptiest nodes (cpu and memory).
    LEAST_ALLOCATED = "least-allocated"
    # Pack: prefer the fullest nodes, leaving whole nodes free for big pods.
    BIN_PACKING = "bin-packing"


# Preset weights of the score plugins per mode. nodeAffinity and
# taintToleration keep kube-scheduler's default weights (2 and 3) in every
# mode: they carry the pod's own preferences. imageLocality weighs 3 in every mode: a
# multi-GB image or model already on a node saves minutes of cold start whatever the mode.
MODE_PRESETS: Mapping[str, Mapping[str, int]] = MappingProxyType(
    {
        "latency-first": MappingProxyType(
            {
                "latency": 10,
                "cost": 1,
                "resources": 2,
                "spread": 2,
                "nodeAffinity": 2,
                "taintToleration": 3,
                "imageLocality": 3,
            }
        ),
        "cost-first": MappingProxyType(
            {
                "latency": 1,
                "cost": 10,
                "resources": 2,
                "spread": 2,
                "nodeAffinity": 2,
                "taintToleration": 3,
                "imageLocality": 3,
            }
        ),
        "balanced": MappingProxyType(
            {
                "latency": 5,
                "cost": 5,
                "resources": 2,
                "spread": 2,
                "nodeAffinity": 2,
                "taintToleration": 3,
                "imageLocality": 3,
            }
        ),
    }
)
DEFAULT_MODE = "balanced"
SCORE_PLUGIN_NAMES = frozenset(MODE_PRESETS[DEFAULT_MODE])

_KNOWN_FIELDS = frozenset(
    {
        "mode",
        "weights",
        "userRegions",
        "allowedRegions",
        "allowedClusters",
        "maxLatencyMs",
        "resourceStrategy",
    }
)


class PolicyError(ValueError):
    """An invalid scheduling policy; `field` is the path of the offending field."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field


@dataclass(frozen=True)
class SchedulingPolicy:
    """A validated policy. weights: the mode's preset with the tenant's overrides applied."""

    mode: str = DEFAULT_MODE
    weights: Mapping[str, int] = field(default_factory=lambda: MODE_PRESETS[DEFAULT_MODE])
    user_regions: tuple[str, ...] = ()
    allowed_regions: frozenset[str] | None = None  # None: every region
    allowed_clusters: frozenset[str] | None = None  # None: every cluster
    max_latency_ms: float | None = None
    # cpu and memory follow this; the GPU dimension is always bin-packed.
    resource_strategy: ResourceStrategy = ResourceStrategy.LEAST_ALLOCATED


DEFAULT_POLICY = SchedulingPolicy()


def _string_list(
    raw: Any, where: str, known: Collection[str] | None, allow_empty: bool = True
) -> tuple[str, ...]:
    if not isinstance(raw, list):
        raise PolicyError(where, f"must be a list of strings, got {type(raw).__name__}")
    if not raw and not allow_empty:
        raise PolicyError(where, "must not be empty (leave it out to allow all)")
    for i, item in enumerate(raw):
        if not isinstance(item, str) or not item:
            raise PolicyError(f"{where}[{i}]", f"must be a non-empty string, got {item!r}")
        if known is not None and item not in known:
            raise PolicyError(f"{where}[{i}]", f"unknown region {item!r}")
    return tuple(raw)


def _weights(raw: Any, mode: str, score_plugins: Collection[str]) -> Mapping[str, int]:
    where = f"{FIELD}.weights"
    if not isinstance(raw, Mapping):
        raise PolicyError(where, f"must be a map of plugin name to weight, got {raw!r}")
    weights = dict(MODE_PRESETS[mode])
    for name, weight in raw.items():
        if name not in score_plugins:
            known = ", ".join(sorted(score_plugins))
            raise PolicyError(f"{where}.{name}", f"unknown score plugin (known: {known})")
        if isinstance(weight, bool) or not isinstance(weight, int):
            raise PolicyError(f"{where}.{name}", f"must be an integer, got {weight!r}")
        if weight < 0:
            raise PolicyError(f"{where}.{name}", f"must be >= 0, got {weight}")
        weights[name] = weight
    return MappingProxyType(weights)


def _choice(raw: Any, where: str, choices: Collection[str]) -> str:
    if raw not in choices:
        raise PolicyError(where, f"must be one of {', '.join(sorted(choices))}, got {raw!r}")
    return str(raw)


def _max_latency(raw: Any, user_regions: tuple[str, ...]) -> float:
    where = f"{FIELD}.maxLatencyMs"
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
        raise PolicyError(where, f"must be a number, got {raw!r}")
    if raw <= 0:
        raise PolicyError(where, f"must be > 0, got {raw}")
    if not user_regions:
        raise PolicyError(where, f"needs {FIELD}.userRegions to measure latency from")
    return float(raw)


def _allow_list(
    spec: Mapping[str, Any], key: str, known: Collection[str] | None
) -> frozenset[str] | None:
    """An optional non-empty allow-list; None (allow all) when the field is absent."""
    if key not in spec:
        return None
    return frozenset(_string_list(spec[key], f"{FIELD}.{key}", known, allow_empty=False))


def parse_policy(
    spec: Mapping[str, Any] | None,
    known_regions: Collection[str],
    score_plugins: Collection[str] = SCORE_PLUGIN_NAMES,
) -> SchedulingPolicy:
    """Validate the Tenant spec's `scheduling` section (None or {}: the default policy).

    known_regions: edge regions and user regions (ClusterSnapshot.known_regions()).
    score_plugins: the weight names allowed (those of the profile in use).
    """
    if spec is None:
        return DEFAULT_POLICY
    if not isinstance(spec, Mapping):
        raise PolicyError(FIELD, f"must be a map, got {type(spec).__name__}")
    for key in spec:
        if key not in _KNOWN_FIELDS:
            raise PolicyError(f"{FIELD}.{key}", "unknown field")
    mode = _choice(spec.get("mode", DEFAULT_MODE), f"{FIELD}.mode", MODE_PRESETS)
    strategies = {s.value: s for s in ResourceStrategy}
    strategy = _choice(
        spec.get("resourceStrategy", ResourceStrategy.LEAST_ALLOCATED.value),
        f"{FIELD}.resourceStrategy",
        strategies,
    )
    user_regions = _string_list(spec.get("userRegions", []), f"{FIELD}.userRegions", known_regions)
    allowed_regions = _allow_list(spec, "allowedRegions", known_regions)
    allowed_clusters = _allow_list(spec, "allowedClusters", None)
    max_latency = None
    if spec.get("maxLatencyMs") is not None:
        max_latency = _max_latency(spec["maxLatencyMs"], user_regions)
    return SchedulingPolicy(
        mode=mode,
        weights=_weights(spec.get("weights", {}), mode, score_plugins),
        user_regions=user_regions,
        allowed_regions=allowed_regions,
        allowed_clusters=allowed_clusters,
        max_latency_ms=max_latency,
        resource_strategy=strategies[strategy],
    )
