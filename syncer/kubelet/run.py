"""``/run/``: one command through the edge's ``pods/exec``, its output as the answer.

The kubelet's ``/run`` has no edge API of its own, so it becomes a
non-interactive exec over WebSocket (``v5.channel.k8s.io``): channel 1 and 2
carry stdout and stderr, channel 3 the final Status. Output is capped at
``OUTPUT_MAX``.
"""

from __future__ import annotations

from collections.abc import Sequence

import aiohttp
import orjson

from syncer.fleet.conn import EdgeConn
from syncer.kubelet.edge import EdgeStreams, EdgeUnreachable

PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io")
OUTPUT_MAX = 4 * 1024 * 1024
RUN_TIMEOUT_S = 300.0
STDOUT, STDERR, ERROR = 1, 2, 3


def exit_message(status: bytes) -> str:
    """The text of a failed command's Status (channel 3), or "" on success."""
    try:
        doc = orjson.loads(status)
    except ValueError:
        return status.decode(errors="replace")
    return "" if doc.get("status") == "Success" else str(doc.get("message", ""))


async def run_on_edge(streams: EdgeStreams, edge: EdgeConn, path: str,
                      query: Sequence[tuple[str, str]]) -> tuple[int, str]:
    """(HTTP status, text) of running the command the query names."""
    session, url, headers, proxy = await streams.websocket_args(edge.name, edge.client, path)
    output, failure = bytearray(), ""
    try:
        async with session.ws_connect(url, params=list(query), headers=headers, proxy=proxy,
                                      protocols=PROTOCOLS, timeout=aiohttp.ClientWSTimeout(
                                          ws_receive=RUN_TIMEOUT_S, ws_close=5.0)) as ws:
            async for msg in ws:
                if msg.type != aiohttp.WSMsgType.BINARY or not msg.data:
                    continue
                channel, data = msg.data[0], msg.data[1:]
                if channel in (STDOUT, STDERR) and len(output) < OUTPUT_MAX:
                    output += data[: OUTPUT_MAX - len(output)]
                elif channel == ERROR:
                    failure = exit_message(data)
    except aiohttp.WSServerHandshakeError as err:
        return err.status, err.message
    except (aiohttp.ClientError, TimeoutError, OSError) as err:
        raise EdgeUnreachable(edge.name) from err
    text = output.decode(errors="replace")
    return (200, text) if not failure else (500, f"{text}{failure}")
