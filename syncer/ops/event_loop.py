"""The event loop fusionvc's processes run on: uvloop where it is installed.

The syncer's CPU per pod is mostly event-loop work: socket reads and writes, TLS
records, callbacks (issue 16's profile: asyncio's pure-Python selector loop and SSL
protocol were about a third of it). uvloop runs the same asyncio API on libuv, with
its TLS layer in Cython. Measured with ``hack/bench/event_loop_cost.py`` (side by
side, same sandbox): see the closing notes of issue 16 for the figures.

``auto`` (the default) picks uvloop when it can be imported, else asyncio's own loop;
``asyncio`` forces the standard loop (for debugging with asyncio's debug mode, or a
platform without uvloop); ``uvloop`` requires it.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")
EVENT_LOOPS = ("auto", "uvloop", "asyncio")
ENV = "FUSIONVC_EVENT_LOOP"  # the syncer's --event-loop; read as is by edgedns and gslb


class EventLoopError(Exception):
    """The event loop asked for is not available here."""


def loop_factory(choice: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """The factory of the chosen loop; None means asyncio's default."""
    if choice not in EVENT_LOOPS:
        raise EventLoopError(f"unknown event loop {choice!r}; one of {', '.join(EVENT_LOOPS)}")
    if choice == "asyncio":
        return None
    if importlib.util.find_spec("uvloop") is None:
        if choice == "uvloop":
            raise EventLoopError("event loop 'uvloop' asked for, but uvloop is not installed")
        return None
    import uvloop

    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def loop_name(loop: asyncio.AbstractEventLoop) -> str:
    """``uvloop`` or ``asyncio``, for the start-up log line and the build info metric."""
    return "uvloop" if type(loop).__module__.startswith("uvloop") else "asyncio"


def run(main: Coroutine[Any, Any, T], choice: str | None = None) -> T:
    """Runs ``main`` to completion on the chosen loop (None: $FUSIONVC_EVENT_LOOP, else
    auto), as ``asyncio.run`` does; raises EventLoopError naming the source of a bad one."""
    if choice is None:
        choice = os.environ.get(ENV, "auto")
        if choice not in EVENT_LOOPS:
            main.close()
            raise EventLoopError(f"{ENV}: unknown event loop {choice!r}; "
                                 f"one of {', '.join(EVENT_LOOPS)}")
    try:
        factory = loop_factory(choice)
    except EventLoopError:
        main.close()  # never awaited: close it so Python does not warn about it
        raise
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(main)
