"""Leader election decisions as a table; the I/O loop is integration-tested elsewhere."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from kubernetes_asyncio.client import ApiClient, Configuration

from syncer.kube.client import KubeClient
from syncer.ops.leader import (
    Action,
    LeaderElector,
    decide,
    format_micro_time,
    parse_time,
    release_body,
)
from syncer.ops.settings import LeaderSettings

NOW = datetime(2025, 3, 1, 12, 0, 0, 250000, tzinfo=UTC)
STAMP = "2025-03-01T12:00:00.250000Z"
ME, OTHER = "syncer-0_1", "syncer-1_1"


def lease(holder: str | None, renewed_ago_s: float | None, *, duration: Any = 15,
          transitions: int = 3, acquire: str = "2025-03-01T11:00:00+00:00") -> dict[str, Any]:
    spec: dict[str, Any] = {"leaseDurationSeconds": duration, "leaseTransitions": transitions,
                            "acquireTime": acquire}
    if holder is not None:
        spec["holderIdentity"] = holder
    if renewed_ago_s is not None:
        spec["renewTime"] = (NOW - timedelta(seconds=renewed_ago_s)).isoformat()
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": "fusionvc-syncer", "namespace": "fusionvc-system",
                         "resourceVersion": "42", "labels": {"keep": "me"}},
            "spec": spec}


def run(current: dict[str, Any] | None, identity: str = ME) -> Any:
    return decide(current, identity=identity, now=NOW, lease_duration_s=15,
                  name="fusionvc-syncer", namespace="fusionvc-system")


# (case, current lease, action, reason, holder after, transitions after, acquireTime after)
TABLE = [
    ("absent", None, Action.CREATE, "absent", ME, 0, STAMP),
    ("mine, fresh", lease(ME, 3), Action.UPDATE, "renew", ME, 3, "2025-03-01T11:00:00.000000Z"),
    ("mine, expired", lease(ME, 60), Action.UPDATE, "renew", ME, 3,
     "2025-03-01T11:00:00.000000Z"),
    ("other, fresh", lease(OTHER, 3), Action.WAIT, "held", OTHER, None, None),
    ("other, exactly at expiry", lease(OTHER, 15), Action.WAIT, "held", OTHER, None, None),
    ("other, just expired", lease(OTHER, 15.001), Action.UPDATE, "expired", ME, 4, STAMP),
    ("other, long expired", lease(OTHER, 3600), Action.UPDATE, "expired", ME, 4, STAMP),
    ("other, own longer duration", lease(OTHER, 30, duration=60), Action.WAIT, "held", OTHER,
     None, None),
    ("other, bad duration uses ours", lease(OTHER, 20, duration="x"), Action.UPDATE, "expired",
     ME, 4, STAMP),
    ("other, never renewed", lease(OTHER, None), Action.UPDATE, "expired", ME, 4, STAMP),
    ("released (empty holder)", lease("", 0), Action.UPDATE, "released", ME, 4, STAMP),
    ("released (no holder field)", lease(None, 0), Action.UPDATE, "released", ME, 4, STAMP),
]


@pytest.mark.parametrize(("case", "current", "action", "reason", "holder", "transitions",
                          "acquired"), TABLE, ids=[row[0] for row in TABLE])
def test_decision_table(case: str, current: dict[str, Any] | None, action: Action, reason: str,
                        holder: str, transitions: int | None, acquired: str | None) -> None:
    decision = run(current)
    assert (decision.action, decision.reason, decision.holder) == (action, reason, holder)
    if action is Action.WAIT:
        assert decision.body is None
        assert decision.expires is not None and decision.expires >= NOW
        return
    spec = decision.body["spec"]
    assert spec["holderIdentity"] == ME
    assert spec["renewTime"] == STAMP
    assert spec["leaseDurationSeconds"] == 15
    assert spec["leaseTransitions"] == transitions
    assert spec["acquireTime"] == acquired


def test_create_body_is_a_lease() -> None:
    body = run(None).body
    assert body["apiVersion"] == "coordination.k8s.io/v1" and body["kind"] == "Lease"
    assert body["metadata"] == {"name": "fusionvc-syncer", "namespace": "fusionvc-system"}


def test_update_is_guarded_by_the_observed_resource_version() -> None:
    current = lease(OTHER, 3600)
    first, second = run(current, ME), run(current, "syncer-2_1")
    # Both candidates write against resourceVersion 42: the API server accepts one only.
    assert first.body["metadata"]["resourceVersion"] == "42"
    assert second.body["metadata"]["resourceVersion"] == "42"
    assert first.body["metadata"]["labels"] == {"keep": "me"}
    assert current["spec"]["holderIdentity"] == OTHER  # input untouched


def test_release_lets_a_standby_take_over_at_once() -> None:
    body = release_body(lease(ME, 1), identity=ME, now=NOW)
    assert body is not None
    assert body["spec"]["holderIdentity"] == ""
    assert body["spec"]["leaseDurationSeconds"] == 1
    assert body["spec"]["renewTime"] == STAMP
    assert body["spec"]["leaseTransitions"] == 3
    assert body["metadata"]["resourceVersion"] == "42"
    takeover = run(body, OTHER)
    assert (takeover.action, takeover.reason) == (Action.UPDATE, "released")
    assert takeover.body["spec"]["leaseTransitions"] == 4


def test_release_of_a_lease_held_by_someone_else_writes_nothing() -> None:
    assert release_body(lease(OTHER, 1), identity=ME, now=NOW) is None
    assert release_body({"metadata": {}}, identity=ME, now=NOW) is None


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        (datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC), "2025-01-02T03:04:05.000000Z"),
        (datetime(2025, 1, 2, 5, 4, 5, 7, tzinfo=timezone(timedelta(hours=2))),
         "2025-01-02T03:04:05.000007Z"),
    ],
)
def test_micro_time_always_has_six_digits_in_utc(moment: datetime, text: str) -> None:
    assert format_micro_time(moment) == text


@pytest.mark.parametrize(
    "value", ["2025-03-01T12:00:00.250000Z", "2025-03-01T12:00:00.25+00:00",
              datetime(2025, 3, 1, 12, 0, 0, 250000)],
)
def test_parse_time(value: object) -> None:
    assert parse_time(value) == NOW


@pytest.mark.parametrize("value", [None, "", "yesterday", 17])
def test_parse_bad_time(value: object) -> None:
    assert parse_time(value) is None


async def test_elector_without_leadership_releases_nothing() -> None:
    configuration = Configuration(host="http://127.0.0.1:9")  # never contacted
    client = KubeClient(ApiClient(configuration), "management")
    try:
        elector = LeaderElector(client, LeaderSettings(identity=ME))
        assert elector.identity == ME
        assert not elector.is_leader
        assert await elector.release() is False
        await elector.run()  # released: returns at once, without I/O
        assert not elector.leading.is_set() and not elector.lost.is_set()
    finally:
        await client.close()
