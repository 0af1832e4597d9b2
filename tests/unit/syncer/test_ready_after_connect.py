"""Readiness waits for every Tenant and EdgeCluster to be tried (syncer/fleet/management.py:
Management.clusters_tried): before the leader has connected them there are no connections,
and "every connection synced" held for none (issue 16, part 5)."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes_asyncio.client import ApiClient, Configuration
from prometheus_client import CollectorRegistry

from syncer.core.context import SyncContext
from syncer.core.controller import Controller
from syncer.core.keys import WorkKey
from syncer.core.queue import FairQueue
from syncer.core.recorder import EventRecorder
from syncer.fleet.connect import ConnectError
from syncer.fleet.management import FINALIZER, Management
from syncer.kube.client import KubeClient, KubeError
from syncer.ops.metrics import Metrics
from syncer.placement import Placer


def cluster(name: str, uid: str, **meta: Any) -> dict[str, Any]:
    return {"metadata": {"name": name, "uid": uid, **meta},
            "spec": {"kubeconfigSecretRef": {"name": f"{name}-kubeconfig"}}}


async def test_clusters_count_as_tried_once_connected_or_refused() -> None:
    ctx = SyncContext(tenants={}, edges={}, queue=FairQueue(), recorder=EventRecorder(),
                      placer=Placer())
    metrics = Metrics(CollectorRegistry())
    client = KubeClient(ApiClient(Configuration(host="http://127.0.0.1:9")), "management")
    try:
        management = Management(client, "fusionvc-system", ctx,
                                Controller(ctx, metrics, ()), ctx.placer, metrics)
        assert management.clusters_tried  # nothing known: nothing to wait for
        tenants = management.informers["Tenant"].store
        tenants.upsert(cluster("tenant-a", "u-a"))
        tenants.upsert(cluster("gone", "u-g", deletionTimestamp="2026-12-01T00:00:00Z"))
        assert not management.clusters_tried  # tenant-a is not connected yet
        with pytest.raises(ConnectError, match="not found"):  # its Secret is missing
            await management._connection("Tenant", tenants.get("", "tenant-a"))
        assert management.clusters_tried  # refused, the reason goes to its status
        management.informers["EdgeCluster"].store.upsert(cluster("edge-1", "u-e"))
        assert not management.clusters_tried
    finally:
        ctx.queue.shutdown()
        await client.close()


async def test_a_failed_crd_install_leaves_the_tenant_to_connect_again(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Before: the fingerprint was kept, so the next reconcile found no new client and no
    connection (KeyError on every retry), and the new client leaked."""
    ctx = SyncContext(tenants={}, edges={}, queue=FairQueue(), recorder=EventRecorder(),
                      placer=Placer())
    metrics = Metrics(CollectorRegistry())
    client = KubeClient(ApiClient(Configuration(host="http://127.0.0.1:9")), "management")
    tenant_client = KubeClient(ApiClient(Configuration(host="http://127.0.0.1:9")), "tenant-a")
    closed: list[str] = []
    try:
        management = Management(client, "fusionvc-system", ctx,
                                Controller(ctx, metrics, ()), ctx.placer, metrics)
        management.informers["Tenant"].store.upsert(
            cluster("tenant-a", "u-a", finalizers=[FINALIZER]))

        async def connection(kind: str, obj: dict[str, Any]) -> KubeClient:
            management.fingerprints[(kind, obj["metadata"]["name"])] = ("rv", "secret")
            return tenant_client

        async def ensure(_client: KubeClient) -> None:
            raise KubeError(503, "ServiceUnavailable", "etcd is restarting")

        async def close() -> None:
            closed.append("tenant-a")

        monkeypatch.setattr(management, "_connection", connection)
        monkeypatch.setattr(management.tenant_crds, "ensure", ensure)
        monkeypatch.setattr(tenant_client, "close", close)
        with pytest.raises(KubeError, match="etcd is restarting"):
            await management.reconcile_tenant(WorkKey("", "Tenant", "", "tenant-a"))
        assert ("Tenant", "tenant-a") not in management.fingerprints  # connects again
        assert closed == ["tenant-a"] and "tenant-a" not in ctx.tenants
    finally:
        ctx.queue.shutdown()
        await client.close()
        await KubeClient.close(tenant_client)  # its real close, patched out above


class Loading:
    """A connection whose informers are still listing (``error``: one list failed)."""

    synced = False

    def __init__(self, error: str = "") -> None:
        self.error = error

    def last_error(self) -> str:
        return self.error


def with_ready(status: str) -> dict[str, Any]:
    return {"status": {"conditions": [{"type": "Ready", "status": status,
                                       "reason": "Connected", "message": "answers"}]}}


@pytest.mark.parametrize(("obj", "error", "health"), [
    # A restarted syncer: the edge stays Ready while its caches load (the GSLB leaves out
    # the sites of an edge that is not Ready: every exported domain went silent).
    (with_ready("True"), "", (True, "Connected", "answers")),
    (with_ready("False"), "", (False, "Syncing",
                               "connected; informers are loading the cluster's objects")),
    ({}, "", (False, "Syncing", "connected; informers are loading the cluster's objects")),
    # A list failed: not "as ready as it was".
    (with_ready("True"), "503 etcd", (False, "Syncing",
                                      "connected; informers are loading the cluster's objects")),
])
def test_a_loading_connection_keeps_the_ready_it_had(
        obj: dict[str, Any], error: str, health: tuple[bool, str, str]) -> None:
    assert Management._health(Loading(error), obj) == health  # type: ignore[arg-type]
