"""Informer's list: a watch-list where the server serves one, else pages; either way the
cache ends as the server's state, with the events a diff against the old cache gives."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from syncer.kube.apis import PODS, ResourceType
from syncer.kube.client import KubeError
from syncer.kube.informer import INITIAL_EVENTS_END, Informer
from syncer.kube.store import Store

Obj = dict[str, Any]


def pod(name: str, rv: str) -> Obj:
    return {"metadata": {"name": name, "namespace": "ns", "resourceVersion": rv},
            "spec": {"containers": [{"name": "c", "image": "i"}]}}


def end_of_initial_events(rv: str) -> Obj:
    return {"type": "BOOKMARK", "object": {"metadata": {
        "resourceVersion": rv, "annotations": {INITIAL_EVENTS_END: "true"}}}}


class ScriptedClient:
    """Answers list and watch from scripts; records what was asked."""

    name = "scripted"

    def __init__(self, streams: list[list[Obj] | KubeError], pages: list[Obj]) -> None:
        self.streams, self.pages = streams, pages
        self.watches: list[dict[str, Any]] = []
        self.lists = 0

    async def list(self, rt: ResourceType, namespace: str | None = None, **query: Any) -> Obj:
        self.lists += 1
        return self.pages.pop(0)

    async def watch(self, rt: ResourceType, resource_version: str,
                    **query: Any) -> AsyncIterator[Obj]:
        self.watches.append({"resourceVersion": resource_version, **query})
        script = self.streams.pop(0) if self.streams else []
        if isinstance(script, KubeError):
            raise script
        for event in script:
            yield event
        if not self.streams:
            await asyncio.Event().wait()  # the last watch stays open


async def run_until_synced(informer: Informer) -> list[tuple[str, str]]:
    seen: list[tuple[str, str]] = []
    informer.add_handler(lambda kind, old, new: seen.append(
        (kind, (new or old or {})["metadata"]["name"])))
    task = asyncio.create_task(informer.run())
    try:
        await asyncio.wait_for(informer.synced.wait(), 5)
        await asyncio.sleep(0.05)  # events after the initial ones
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    return seen


async def test_a_watch_list_fills_the_cache_and_goes_on_as_the_watch() -> None:
    store = Store()
    store.upsert(pod("gone", "1"))
    store.upsert(pod("same", "2"))
    client = ScriptedClient([[
        {"type": "ADDED", "object": pod("same", "2")},
        {"type": "ADDED", "object": pod("new", "5")},
        end_of_initial_events("6"),
        {"type": "MODIFIED", "object": pod("new", "7")},
    ]], [])
    informer = Informer(client, PODS, store)  # type: ignore[arg-type]
    seen = await run_until_synced(informer)
    assert seen == [("ADDED", "new"), ("DELETED", "gone"), ("MODIFIED", "new")]
    assert sorted(store.list_keys()) == [("ns", "new"), ("ns", "same")]
    assert store.get("ns", "new")["metadata"]["resourceVersion"] == "7"
    assert client.lists == 0 and informer.watch_list
    asked = client.watches[0]
    assert asked["sendInitialEvents"] is True and asked["resourceVersionMatch"] == "NotOlderThan"


async def test_a_server_refusing_watch_lists_gets_pages_from_then_on() -> None:
    refused = KubeError(422, "Invalid", "sendInitialEvents is forbidden for watch")
    page = {"metadata": {"resourceVersion": "9"}, "items": [pod("a", "3")]}
    client = ScriptedClient([refused, []], [page])
    informer = Informer(client, PODS, Store())  # type: ignore[arg-type]
    seen = await run_until_synced(informer)
    assert seen == [("ADDED", "a")]
    assert client.lists == 1 and not informer.watch_list
    assert client.watches[1]["resourceVersion"] == "9"
    assert "sendInitialEvents" not in client.watches[1]


async def test_a_watch_list_broken_before_its_end_is_asked_for_again() -> None:
    client = ScriptedClient([[{"type": "ADDED", "object": pod("a", "3")}],
                             [{"type": "ADDED", "object": pod("a", "3")},
                              end_of_initial_events("4")]], [])
    informer = Informer(client, PODS, Store(), max_backoff=0.01)  # type: ignore[arg-type]
    seen = await run_until_synced(informer)
    assert seen == [("ADDED", "a")]
    assert [w.get("sendInitialEvents") for w in client.watches] == [True, True]
