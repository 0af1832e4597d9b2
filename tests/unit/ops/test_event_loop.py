"""The event loop choice (syncer/ops/event_loop.py) and its setting."""

from __future__ import annotations

import asyncio
import concurrent.futures

import pytest

from syncer.ops import event_loop
from syncer.ops.settings import SettingsError, load_settings


async def _running_loop_name() -> str:
    return event_loop.loop_name(asyncio.get_running_loop())


def _in_fresh_thread(choice: str | None) -> str:
    """Runs a loop outside pytest's own running loop (asyncio.Runner refuses to nest)."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(event_loop.run, _running_loop_name(), choice).result()


@pytest.mark.parametrize(("choice", "expected"), [
    ("auto", "uvloop"),  # uvloop is a dependency on Linux
    ("uvloop", "uvloop"),
    ("asyncio", "asyncio"),
])
def test_run_uses_the_chosen_loop(choice: str, expected: str) -> None:
    assert _in_fresh_thread(choice) == expected


def test_unknown_choice_is_refused_and_the_coroutine_closed() -> None:
    coro = _running_loop_name()
    with pytest.raises(event_loop.EventLoopError, match="unknown event loop 'tokio'"):
        event_loop.run(coro, "tokio")
    assert coro.cr_frame is None  # closed: no "never awaited" warning


def test_auto_falls_back_to_asyncio_without_uvloop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(event_loop.importlib.util, "find_spec", lambda name: None)
    assert event_loop.loop_factory("auto") is None
    with pytest.raises(event_loop.EventLoopError, match="uvloop is not installed"):
        event_loop.loop_factory("uvloop")


@pytest.mark.parametrize(("argv", "environ", "expected"), [
    ([], {}, "auto"),
    (["--event-loop", "asyncio"], {}, "asyncio"),
    ([], {"FUSIONVC_EVENT_LOOP": "uvloop"}, "uvloop"),
])
def test_setting(argv: list[str], environ: dict[str, str], expected: str) -> None:
    assert load_settings(argv, environ).process.event_loop == expected


def test_setting_names_its_source_when_bad() -> None:
    with pytest.raises(SettingsError, match="FUSIONVC_EVENT_LOOP"):
        load_settings([], {"FUSIONVC_EVENT_LOOP": "trio"})


def test_environment_choice_for_the_helper_processes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(event_loop.ENV, "asyncio")
    assert _in_fresh_thread(None) == "asyncio"
    monkeypatch.setenv(event_loop.ENV, "trio")
    coro = _running_loop_name()
    with pytest.raises(event_loop.EventLoopError, match="FUSIONVC_EVENT_LOOP: unknown"):
        event_loop.run(coro)


def test_api_transport_setting_reaches_the_clients() -> None:
    from syncer.kube import transport
    from syncer.ops.settings import SettingsError, load_settings

    assert load_settings([], {}).process.api_transport == "lean"
    chosen = load_settings([], {"FUSIONVC_API_TRANSPORT": "aiohttp"}).process.api_transport
    assert chosen == "aiohttp"
    with pytest.raises(SettingsError, match="--api-transport"):
        load_settings(["--api-transport", "curl"], {})
    try:
        transport.use_transport(chosen)
        assert transport.TRANSPORT[0] == "aiohttp"
    finally:
        transport.use_transport("lean")
