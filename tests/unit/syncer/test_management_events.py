"""Which Tenant and EdgeCluster changes requeue them (syncer/fleet/management.py)."""

from __future__ import annotations

import copy
from typing import Any

from syncer.fleet.management import only_status_changed


def tenant(**meta: Any) -> dict[str, Any]:
    return {"metadata": {"name": "a", "uid": "u1", "generation": 3, "finalizers": ["f"],
                         **meta},
            "spec": {"podSecurity": "baseline"}, "status": {"syncedPods": 10}}


def test_a_status_write_is_only_a_status_change() -> None:
    new = copy.deepcopy(tenant())
    new["status"]["syncedPods"] = 11
    new["metadata"]["resourceVersion"] = "9"
    assert only_status_changed(tenant(), new)


def test_spec_deletion_and_finalizer_changes_are_not() -> None:
    assert not only_status_changed(tenant(), tenant(generation=4))
    assert not only_status_changed(tenant(), tenant(deletionTimestamp="2026-01-01T00:00:00Z"))
    assert not only_status_changed(tenant(), tenant(finalizers=[]))
    assert not only_status_changed(tenant(), tenant(labels={"x": "y"}))
