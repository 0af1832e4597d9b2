"""Parsing the Tenant spec's scheduling section."""

from typing import Any

import pytest

from scheduler import DEFAULT_POLICY, MODE_PRESETS, PolicyError, ResourceStrategy, parse_policy
from scheduler.policy import SCORE_PLUGIN_NAMES
from scheduler.profile import build_profile

REGIONS = {"eu-west", "us-east", "users-eu"}


def test_missing_or_empty_section_is_the_default_policy() -> None:
    assert parse_policy(None, REGIONS) is DEFAULT_POLICY
    assert parse_policy({}, REGIONS) == DEFAULT_POLICY
    assert DEFAULT_POLICY.mode == "balanced"
    assert DEFAULT_POLICY.resource_strategy is ResourceStrategy.LEAST_ALLOCATED


def test_full_policy() -> None:
    policy = parse_policy(
        {
            "mode": "cost-first",
            "weights": {"latency": 7, "spread": 0},
            "userRegions": ["users-eu"],
            "allowedRegions": ["eu-west", "us-east"],
            "allowedClusters": ["edge-1"],
            "maxLatencyMs": 42.5,
            "resourceStrategy": "bin-packing",
        },
        REGIONS,
    )
    assert policy.mode == "cost-first"
    assert dict(policy.weights) == {**MODE_PRESETS["cost-first"], "latency": 7, "spread": 0}
    assert policy.user_regions == ("users-eu",)
    assert policy.allowed_regions == frozenset({"eu-west", "us-east"})
    assert policy.allowed_clusters == frozenset({"edge-1"})
    assert policy.max_latency_ms == 42.5
    assert policy.resource_strategy is ResourceStrategy.BIN_PACKING


@pytest.mark.parametrize("mode", sorted(MODE_PRESETS))
def test_every_mode_weights_every_builtin_score_plugin(mode: str) -> None:
    assert set(parse_policy({"mode": mode}, REGIONS).weights) == SCORE_PLUGIN_NAMES
    assert build_profile().score_plugin_names() == SCORE_PLUGIN_NAMES


def test_latency_first_and_cost_first_lean_the_right_way() -> None:
    latency_first = MODE_PRESETS["latency-first"]
    cost_first = MODE_PRESETS["cost-first"]
    assert latency_first["latency"] > latency_first["cost"]
    assert cost_first["cost"] > cost_first["latency"]


INVALID: list[tuple[Any, str]] = [
    (
        {"mode": "fastest"},
        "spec.scheduling.mode: must be one of balanced, cost-first, latency-first, got 'fastest'",
    ),
    ({"weights": {"latency": -1}}, "spec.scheduling.weights.latency: must be >= 0, got -1"),
    ({"weights": {"speed": 1}}, "spec.scheduling.weights.speed: unknown score plugin"),
    ({"weights": {"cost": 1.5}}, "spec.scheduling.weights.cost: must be an integer, got 1.5"),
    ({"weights": {"cost": True}}, "spec.scheduling.weights.cost: must be an integer, got True"),
    ({"weights": [1]}, "spec.scheduling.weights: must be a map"),
    ({"userRegions": ["mars"]}, "spec.scheduling.userRegions[0]: unknown region 'mars'"),
    ({"userRegions": "users-eu"}, "spec.scheduling.userRegions: must be a list of strings"),
    (
        {"allowedRegions": ["eu-west", "moon"]},
        "spec.scheduling.allowedRegions[1]: unknown region 'moon'",
    ),
    ({"allowedClusters": [""]}, "spec.scheduling.allowedClusters[0]: must be a non-empty string"),
    ({"allowedClusters": []}, "spec.scheduling.allowedClusters: must not be empty"),
    (
        {"maxLatencyMs": -5, "userRegions": ["users-eu"]},
        "spec.scheduling.maxLatencyMs: must be > 0, got -5",
    ),
    (
        {"maxLatencyMs": "fast", "userRegions": ["users-eu"]},
        "spec.scheduling.maxLatencyMs: must be a number",
    ),
    ({"maxLatencyMs": 20}, "spec.scheduling.maxLatencyMs: needs spec.scheduling.userRegions"),
    ({"resourceStrategy": "random"}, "spec.scheduling.resourceStrategy: must be one of"),
    ({"maxLatency": 20}, "spec.scheduling.maxLatency: unknown field"),
    (["mode"], "spec.scheduling: must be a map"),
]


@pytest.mark.parametrize(("spec", "message"), INVALID, ids=[m.split(":")[0] for _, m in INVALID])
def test_invalid_policies_name_the_field(spec: Any, message: str) -> None:
    with pytest.raises(PolicyError) as caught:
        parse_policy(spec, REGIONS)
    assert str(caught.value).startswith(message)
    assert str(caught.value).startswith(caught.value.field + ": ")


def test_extra_score_plugins_can_be_allowed() -> None:
    policy = parse_policy(
        {"weights": {"gpuModel": 3}}, REGIONS, score_plugins=SCORE_PLUGIN_NAMES | {"gpuModel"}
    )
    assert policy.weights["gpuModel"] == 3
