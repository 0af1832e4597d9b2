"""ServiceDomain claims across tenants are decided only once every tenant's claims listed."""

from __future__ import annotations

from syncer.core.keys import WorkKey
from syncer.kinds.servicedomains import CLAIMS_LOADING_RETRY, ServiceDomainSyncer
from syncer.kube import Obj
from syncer.kube.apis import CONFIGMAPS, SERVICEDOMAINS

from .harness import RecordingClient, SyncTest

KEY = WorkKey("tenant-a", "ServiceDomain", "shop", "web")
ZONES = {"dns": {"zones": ["example.com"]}}


def service_domain(created: str) -> Obj:
    return {"apiVersion": "edge.fusionvc.io/v1alpha1", "kind": "ServiceDomain",
            "metadata": {"name": "web", "namespace": "shop", "generation": 1,
                         "creationTimestamp": created},
            "spec": {"service": "web", "hostname": "web.example.com"}}


async def test_a_claim_waits_while_another_tenants_service_domains_list() -> None:
    """After a restart, tenant-b (the older claimant) may list after tenant-a: deciding
    then would publish tenant-a's record for tenant-b's hostname until it listed."""
    sync = SyncTest()
    a, b = sync.add_tenant("tenant-a", ZONES), sync.add_tenant("tenant-b", ZONES)
    sync.add_edge()
    management = RecordingClient("management")
    sync.ctx.management = management  # type: ignore[assignment]
    syncer = sync.syncer("ServiceDomain")
    assert isinstance(syncer, ServiceDomainSyncer)
    b.informers[SERVICEDOMAINS.plural].synced.clear()
    sync.put(a, SERVICEDOMAINS, service_domain("2026-01-02T00:00:00Z"))
    assert await syncer.reconcile(KEY) == CLAIMS_LOADING_RETRY
    assert management.writes() == [] and sync.client(a).writes() == []

    b.informers[SERVICEDOMAINS.plural].last_error = "500: its watch fails"
    await syncer.reconcile(KEY)  # a tenant whose watch fails is not waited for
    assert [c.verb for c in management.writes(CONFIGMAPS)] == ["create"]

    sync.put(b, SERVICEDOMAINS, service_domain("2025-01-01T00:00:00Z"))  # listed at last
    b.informers[SERVICEDOMAINS.plural].synced.set()
    await syncer.reconcile(KEY)
    assert [c.verb for c in management.writes(CONFIGMAPS)] == ["create", "delete"]
    sync.close()
