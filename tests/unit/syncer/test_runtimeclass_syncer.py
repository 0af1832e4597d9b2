"""RuntimeClasses: tenant-scoped copies where the handler is allowed, and placement by handler."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from syncer.core import markers
from syncer.core.names import edge_runtime_class
from syncer.kinds.runtimeclasses import translate_runtime_class_down
from syncer.kube.apis import NAMESPACES, NODES, PODS, RUNTIMECLASSES
from tests.builders import edge_node, namespace, pod, pod_spec

from .harness import SyncTest


def runtime_class(name: str, handler: str, **extra: object) -> dict[str, object]:
    return {"apiVersion": "node.k8s.io/v1", "kind": "RuntimeClass",
            "metadata": {"name": name, "uid": f"{name}-uid"}, "handler": handler, **extra}


@pytest.fixture
def fleet() -> Iterator[SyncTest]:
    """edge-cpu offers runc only, edge-gpu runc and nvidia."""
    sync = SyncTest()
    tenant = sync.add_tenant()
    sync.put(tenant, NAMESPACES, namespace("shop"))
    for name, handlers in (("edge-cpu", {"runc"}), ("edge-gpu", {"runc", "nvidia"})):
        edge = sync.add_edge(name, runtime_handlers=frozenset(handlers))
        sync.put(edge, NODES, edge_node("n1"))
    yield sync
    sync.close()


def test_translation_is_tenant_scoped_and_keeps_the_handler() -> None:
    rc = runtime_class("gpu", "nvidia", overhead={"podFixed": {"cpu": "100m"}})
    out = translate_runtime_class_down(rc, tenant="tenant-a", tenant_uid="u1")
    assert out["metadata"]["name"] == edge_runtime_class("tenant-a", "u1", "gpu") != "gpu"
    assert out["handler"] == "nvidia" and out["overhead"] == {"podFixed": {"cpu": "100m"}}
    assert markers.is_managed(out, "tenant-a")
    assert edge_runtime_class("tenant-a", "u1", "gpu") != edge_runtime_class("tenant-b", "u2",
                                                                             "gpu")


async def test_a_pod_goes_only_where_its_handler_is_and_names_the_copy(
        fleet: SyncTest) -> None:
    tenant = fleet.ctx.tenants["tenant-a"]
    fleet.put(tenant, RUNTIMECLASSES, runtime_class("gpu", "nvidia"))
    for i in range(4):
        fleet.put(tenant, PODS, pod("shop", f"w{i}", spec=pod_spec(runtimeClassName="gpu")))
    await fleet.settle()
    gpu, cpu = fleet.ctx.edges["edge-gpu"], fleet.ctx.edges["edge-cpu"]
    copy_name = edge_runtime_class("tenant-a", tenant.uid, "gpu")
    assert gpu.get(RUNTIMECLASSES, "", copy_name) is not None
    assert cpu.get(RUNTIMECLASSES, "", copy_name) is None
    ens = fleet.edge_ns()
    placed = [gpu.get(PODS, ens, f"w{i}") for i in range(4)]
    assert all(p is not None and p["spec"]["runtimeClassName"] == copy_name for p in placed)
    assert not list(cpu.store(PODS))
    fleet.remove(tenant, PODS, "shop", "w0")
    fleet.remove(tenant, RUNTIMECLASSES, "", "gpu")
    await fleet.settle()
    assert gpu.get(RUNTIMECLASSES, "", copy_name) is None


async def test_a_handler_offered_nowhere_is_an_unschedulable_reason(fleet: SyncTest) -> None:
    tenant = fleet.ctx.tenants["tenant-a"]
    fleet.put(tenant, RUNTIMECLASSES, runtime_class("sandboxed", "kata"))
    fleet.put(tenant, PODS, pod("shop", "web", spec=pod_spec(runtimeClassName="sandboxed")))
    await fleet.settle()
    tpod = tenant.get(PODS, "shop", "web")
    assert tpod is not None
    cond = tpod["status"]["conditions"][0]
    assert (cond["reason"], cond["status"]) == ("Unschedulable", "False")
    assert 'RuntimeClass "sandboxed" (handler kata) is offered by no edge cluster' in \
        cond["message"]
    assert not any(fleet.client(e).writes(PODS) for e in fleet.ctx.edges.values())
