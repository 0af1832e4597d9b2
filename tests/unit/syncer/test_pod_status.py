"""Tenant pod status mirrored up from the edge pod (syncer/kinds/pod_status.py)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from syncer.core import markers
from syncer.kinds.pod_status import (
    STATUS_FIELDS,
    kubelet_reported,
    mirrored_status_patch,
    status_only_change,
    status_patch,
    translate_pod_status_up,
    with_scheduled_condition,
)

Obj = dict[str, Any]


EDGE_STATUS: Obj = {
    "phase": "Running", "podIP": "10.1.2.3", "podIPs": [{"ip": "10.1.2.3"}],
    "hostIP": "192.168.7.7", "hostIPs": [{"ip": "192.168.7.7"}],
    "startTime": "2024-01-01T00:00:00Z",
    "conditions": [{"type": "Ready", "status": "True"}],
    "containerStatuses": [{"name": "app", "ready": True, "restartCount": 0}],
    "qosClass": "BestEffort", "nominatedNodeName": "edge-other",
}


def test_status_up_copies_only_status_fields() -> None:
    edge_pod = {"status": copy.deepcopy(EDGE_STATUS)}
    up = translate_pod_status_up(edge_pod)
    assert set(up) == {k for k in EDGE_STATUS if k in STATUS_FIELDS}
    assert "qosClass" not in up and "nominatedNodeName" not in up
    assert up["podIP"] == "10.1.2.3"


def test_status_up_never_changes_the_cached_edge_pod() -> None:
    """The result shares the edge pod's values (cached objects are read-only, and copying
    them cost about 1% of the syncer's CPU); stamping the generation makes new conditions."""
    edge_pod = {"metadata": {"annotations": {markers.TENANT_GENERATION: "3"}},
                "status": copy.deepcopy(EDGE_STATUS)}
    up = translate_pod_status_up(edge_pod)
    assert up["conditions"] == [{"type": "Ready", "status": "True", "observedGeneration": 3}]
    assert edge_pod["status"] == EDGE_STATUS


@pytest.mark.parametrize("edge_pod", [{}, {"status": None}, {"status": {}}])
def test_status_up_empty(edge_pod: Obj) -> None:
    assert translate_pod_status_up(edge_pod) == {}


@pytest.mark.parametrize(("edge_status", "reported"), [
    ({}, False),
    ({"phase": "Pending"}, False),
    ({"phase": "Pending", "qosClass": "BestEffort"}, False),  # the edge API server's, at create
    ({"qosClass": "BestEffort"}, False),
    ({"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "True"}]}, True),
    ({"phase": "Pending", "containerStatuses": [{"name": "c"}]}, True),
    ({"phase": "Pending", "hostIP": "192.168.7.7"}, True),
    ({"phase": "Running"}, True),
    ({"phase": "Failed", "reason": "Evicted"}, True),
])
def test_a_kubelet_reported_the_pod_once_its_status_says_more_than_the_defaults(
        edge_status: Obj, reported: bool) -> None:
    assert kubelet_reported(edge_status) is reported


def test_a_copy_no_kubelet_reported_yet_sends_nothing_up() -> None:
    """Its observedGeneration alone was one status write per pod more (issue 16)."""
    created = {"metadata": {"annotations": {"fusionvc.io/tenant-generation": "1"}},
               "status": {"phase": "Pending", "qosClass": "BestEffort"}}
    assert translate_pod_status_up(created) == {}
    tpod: Obj = {"metadata": {"generation": 1}, "status": {"phase": "Pending"}}
    assert mirrored_status_patch(tpod, created, None, "2024-06-01T00:00:00Z") is None
    reported = {**created, "status": {**created["status"], "conditions": []}}
    assert translate_pod_status_up(reported) == {"phase": "Pending", "conditions": [],
                                                 "observedGeneration": 1}


@pytest.mark.parametrize(
    ("tenant_status", "desired", "expected"),
    [
        ({"phase": "Running"}, {"phase": "Running"}, None),
        ({}, {}, None),
        ({"phase": "Running", "qosClass": "BestEffort"}, {"phase": "Running"}, None),
        ({"phase": "Pending"}, {"phase": "Running", "podIP": "10.0.0.1"},
         {"phase": "Running", "podIP": "10.0.0.1"}),
        ({"phase": "Running", "podIP": "10.0.0.1"}, {"phase": "Running", "podIP": "10.0.0.2"},
         {"podIP": "10.0.0.2"}),
        ({"conditions": [{"type": "Ready", "status": "False"}]},
         {"conditions": [{"type": "Ready", "status": "True"}]},
         {"conditions": [{"type": "Ready", "status": "True"}]}),
    ],
)
def test_status_patch(tenant_status: Obj, desired: Obj, expected: Obj | None) -> None:
    assert status_patch(tenant_status, desired) == expected


def test_status_patch_clears_a_status_field_the_edge_no_longer_reports() -> None:
    """The edge pod is the source of truth for status: a mirrored field that disappeared
    there (say ``resize`` once a resize finished) must not stay on the tenant pod forever."""
    tenant_status = {"phase": "Running", "podIP": "10.0.0.1", "resize": "InProgress"}
    desired = {"phase": "Running", "podIP": "10.0.0.1"}
    assert status_patch(tenant_status, desired) == {"resize": None}


BOUND = {"type": "PodScheduled", "status": "True", "lastProbeTime": None,
         "lastTransitionTime": "2024-01-01T00:00:00Z"}
NOW = "2024-06-01T00:00:00Z"


@pytest.mark.parametrize(
    ("desired", "tenant_status", "expected_conditions"),
    [
        # The edge kubelet (kwok) reports no PodScheduled: the binding's condition stays.
        ({"conditions": [{"type": "Ready", "status": "True"}]}, {"conditions": [BOUND]},
         [{"type": "Ready", "status": "True"}, BOUND]),
        # observedGeneration as the other conditions'; a pod gated before: transition now.
        ({"observedGeneration": 3, "conditions": []},
         {"conditions": [{"type": "PodScheduled", "status": "False",
                          "reason": "SchedulingGated", "lastTransitionTime": "x"}]},
         [{**BOUND, "lastTransitionTime": NOW, "observedGeneration": 3}]),
        # The edge reports its own: that one, as every other mirrored condition.
        ({"conditions": [{"type": "PodScheduled", "status": "True"}]}, {"conditions": [BOUND]},
         [{"type": "PodScheduled", "status": "True"}]),
        # No conditions from the edge yet: nothing to add.
        ({}, {"conditions": [BOUND]}, None),
    ],
)
def test_a_bound_pod_keeps_pod_scheduled_as_a_kubelet_reports_it(
        desired: Obj, tenant_status: Obj, expected_conditions: list[Obj] | None) -> None:
    before = copy.deepcopy(desired)
    out = with_scheduled_condition(desired, tenant_status, NOW)
    assert out.get("conditions") == expected_conditions
    assert desired == before  # not changed in place


def test_a_condition_fusionvc_reports_keeps_its_transition_time_while_its_status_stays() -> None:
    pending = {"type": "PodResizePending", "status": "True", "reason": "Deferred",
               "message": "no room"}
    epod = {"metadata": {"annotations": {"fusionvc.io/tenant-generation": "2"}},
            "status": {"phase": "Running", "conditions": [BOUND]}}
    tpod: Obj = {"metadata": {"generation": 2}, "status": {"phase": "Running",
                                                         "conditions": [BOUND]}}
    patch = mirrored_status_patch(tpod, epod, pending, NOW)
    assert patch is not None
    added = {**pending, "observedGeneration": 2, "lastTransitionTime": NOW,
             "lastProbeTime": None}
    assert patch["conditions"][-1] == added
    tpod["status"]["conditions"] = [*patch["conditions"]]
    tpod["status"]["observedGeneration"] = 2
    later = "2024-06-02T00:00:00Z"
    assert mirrored_status_patch(tpod, epod, pending, later) is None  # kept, not moved
    assert mirrored_status_patch(tpod, epod, None, later) == {
        "conditions": [{**BOUND, "observedGeneration": 2}]}  # dropped once it is over


def test_only_a_status_change_is_a_status_only_change() -> None:
    old: Obj = {"metadata": {"uid": "u", "labels": {"a": "1"}}, "spec": {"x": 1}}
    assert status_only_change(old, {**old, "status": {"phase": "Running"}})
    assert not status_only_change(old, {**old, "spec": {"x": 2}})
    assert not status_only_change(old, {**old, "metadata": {"uid": "u", "labels": {}}})
