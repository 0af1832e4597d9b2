"""KubeClient against a real API server over both HTTP clients (kube/client.py): the lean
HTTP/1.1 pool (the default) and aiohttp (a proxy, or --api-transport aiohttp) must answer
alike: writes, reads, API errors as KubeError, a watch's events and its end."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from kubernetes_asyncio.config import new_client_from_config

from syncer.kube.apis import CONFIGMAPS
from syncer.kube.client import KubeClient, KubeError
from syncer.kube.transport import use_transport

from .kube_helpers import unique
from .sandbox_fixture import SandboxHandle

pytestmark = pytest.mark.integration


@pytest.fixture(params=["lean", "aiohttp"])
async def client(request: pytest.FixtureRequest,
                 sandbox: SandboxHandle) -> AsyncIterator[KubeClient]:
    use_transport(request.param)
    try:
        api = await new_client_from_config(config_file=sandbox["edge-bj"].kubeconfig)
        kube = KubeClient(api, "edge-bj")
    finally:
        use_transport("lean")
    assert (kube._lean is not None) == (request.param == "lean")
    yield kube
    await kube.close()


def configmap(name: str, value: str) -> dict[str, object]:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": "default"}, "data": {"k": value}}


async def test_writes_reads_and_errors(client: KubeClient) -> None:
    name = unique("kc")
    await client.create(CONFIGMAPS, configmap(name, "1"), "default")
    with pytest.raises(KubeError) as exists:
        await client.create(CONFIGMAPS, configmap(name, "1"), "default")
    assert exists.value.conflict and exists.value.reason == "AlreadyExists"
    await client.patch(CONFIGMAPS, name, {"data": {"k": "2"}}, "default")
    got = await client.get(CONFIGMAPS, name, "default")
    assert got["data"] == {"k": "2"}
    listed = await client.list(CONFIGMAPS, "default", fieldSelector=f"metadata.name={name}")
    assert [i["metadata"]["name"] for i in listed["items"]] == [name]
    assert await client.delete(CONFIGMAPS, name, "default") is not None
    assert await client.delete(CONFIGMAPS, name, "default") is None  # gone: no error
    with pytest.raises(KubeError) as missing:
        await client.get(CONFIGMAPS, name, "default")
    assert missing.value.not_found


async def test_watch_delivers_events_and_ends_with_its_timeout(client: KubeClient) -> None:
    name = unique("kw")
    listed = await client.list(CONFIGMAPS, "default")
    version = listed["metadata"]["resourceVersion"]
    connected = asyncio.Event()
    seen: list[tuple[str, str]] = []

    async def watch() -> None:
        async for event in client.watch(CONFIGMAPS, version, namespace="default",
                                        timeout_seconds=5, read_timeout=30,
                                        on_connected=connected.set):
            if event["object"]["metadata"].get("name") == name:
                seen.append((event["type"], event["object"]["data"]["k"]))

    watching = asyncio.create_task(watch())
    await asyncio.wait_for(connected.wait(), 30)
    big = "x" * 300_000  # one event larger than a TLS record and than aiohttp's line limit
    await client.create(CONFIGMAPS, configmap(name, big), "default")
    await client.patch(CONFIGMAPS, name, {"data": {"k": "2"}}, "default")
    await client.delete(CONFIGMAPS, name, "default")
    await asyncio.wait_for(watching, 60)  # the server ends the watch after timeout_seconds
    assert seen == [("ADDED", big), ("MODIFIED", "2"), ("DELETED", "2")]


async def test_a_refused_watch_is_a_kube_error(client: KubeClient) -> None:
    with pytest.raises(KubeError) as refused:
        async for _ in client.watch(CONFIGMAPS, "0", namespace="default", timeout_seconds=5,
                                    read_timeout=30, fieldSelector="no.such.field=1"):
            pass
    assert refused.value.status == 400
