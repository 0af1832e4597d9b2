"""MetricsDeliverySyncer over in-memory clusters: refusals show on the object, one worker each."""

from __future__ import annotations

import base64

from syncer.core.keys import WorkKey
from syncer.kube.apis import EVENTS, SECRETS
from syncer.metricsdelivery.syncer import METRICSDELIVERIES, MetricsDeliverySyncer
from tests.unit.syncer.harness import SyncTest

KEY = WorkKey("tenant-a", "MetricsDelivery", "shop", "prom")


def delivery(url: str = "http://127.0.0.1:9/api/v1/write") -> dict[str, object]:
    return {"apiVersion": "edge.fusionvc.io/v1alpha1", "kind": "MetricsDelivery",
            "metadata": {"name": "prom", "namespace": "shop", "generation": 1},
            "spec": {"url": url, "credentialsSecretRef": {"name": "creds"}}}


def ready(sync: SyncTest) -> tuple[str, str]:
    obj = sync.ctx.tenants["tenant-a"].get(METRICSDELIVERIES, "shop", "prom")
    assert obj is not None
    cond = obj["status"]["conditions"][0]
    return cond["status"], cond["reason"]


async def test_missing_secret_then_secret_starts_one_worker_then_delete_stops_it() -> None:
    sync = SyncTest(syncers=(MetricsDeliverySyncer,))
    tenant = sync.add_tenant()
    syncer = sync.syncer("MetricsDelivery")
    assert isinstance(syncer, MetricsDeliverySyncer)
    try:
        sync.put(tenant, METRICSDELIVERIES, delivery())
        await sync.settle()
        assert ready(sync) == ("False", "SecretNotFound")
        events = [c.body for c in sync.client(tenant).writes(EVENTS) if c.verb == "create"]
        assert [e["reason"] for e in events] == ["SecretNotFound"]
        assert events[0]["involvedObject"]["kind"] == "MetricsDelivery"
        assert KEY not in syncer._running

        token = base64.b64encode(b"t0k").decode()
        sync.put(tenant, SECRETS, {"metadata": {"name": "creds", "namespace": "shop"},
                                   "data": {"token": token}})
        assert await sync.settle() == [KEY]  # the Secret's event names the delivery
        running = syncer._running[KEY]
        assert running.headers == {"Authorization": "Bearer t0k"}
        await sync.settle()
        current = tenant.get(METRICSDELIVERIES, "shop", "prom")
        assert current is not None
        sync.put(tenant, METRICSDELIVERIES, {**current, "status": {"samplesSent": 1}})
        assert await sync.settle() == []  # a status change is not a reason to restart
        assert syncer._running[KEY] is running

        sync.remove(tenant, METRICSDELIVERIES, "shop", "prom")
        await sync.settle()
        assert KEY not in syncer._running and running.task.cancelled()
    finally:
        await syncer.stop()
        sync.close()


async def test_bad_credentials_secret_is_reported() -> None:
    sync = SyncTest(syncers=(MetricsDeliverySyncer,))
    tenant = sync.add_tenant()
    try:
        sync.put(tenant, SECRETS, {"metadata": {"name": "creds", "namespace": "shop"},
                                   "data": {"user": "eA=="}})
        sync.put(tenant, METRICSDELIVERIES, delivery())
        await sync.settle()
        assert ready(sync) == ("False", "InvalidCredentials")
    finally:
        await sync.syncer("MetricsDelivery").stop()
        sync.close()
