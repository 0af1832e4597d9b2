"""What the HTTP/1.1 server (server.py) and the HTTP/2 one (h2server.py) share.

The checks of a call (tenant from the client certificate, path, isolation) and
its edge path and query (:func:`prepare`); ``/run``'s answer; a followed log's
relay loop; and an edge's error text as the tenant may read it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from syncer.fleet.conn import EdgeConn, TenantConn
from syncer.kubelet.access import Refused, Target, resolve, tenant_of_peercert
from syncer.kubelet.edge import EdgeStreams, LogReply
from syncer.kubelet.paths import (
    BadKubeletPath,
    KubeletCall,
    Query,
    edge_path,
    edge_query,
    parse_kubelet_path,
)
from syncer.kubelet.run import run_on_edge

ERROR_BODY_MAX = 16 * 1024
NEEDS_UPGRADE = "{} needs a connection upgrade (SPDY or WebSocket)"


@dataclass(frozen=True)
class Prepared:
    """A checked call and the edge subresource path and query that serve it."""

    call: KubeletCall
    target: Target
    path: str
    query: Query

    @property
    def follow(self) -> bool:
        return any(k == "follow" and v in ("1", "true", "True") for k, v in self.query)


def prepare(tenants: Mapping[str, TenantConn], edges: Mapping[str, EdgeConn],
            peercert: Mapping[str, Any] | None, path: str,
            query: Sequence[tuple[str, str]]) -> Prepared:
    """The checks before any edge call (raises Refused), then the edge call."""
    tenant = tenant_of_peercert(peercert)
    try:
        call = parse_kubelet_path(path)
    except BadKubeletPath as err:
        raise Refused(404, f"404 page not found: {err}") from None
    if not tenants:
        raise Refused(503, "this fusionvc replica is not serving tenants (standby)")
    target = resolve(tenants, edges, tenant, call)
    return Prepared(call, target, edge_path(target.edge_namespace, call),
                    edge_query(call, query))


def scrub(text: str, target: Target, call: KubeletCall) -> str:
    """An edge's error text as the tenant may read it: its own namespace name back."""
    return text.replace(target.edge_namespace, call.namespace)


def error_text(body: bytes, prepared: Prepared) -> str:
    """The message of an edge's error answer (a Status, or plain text), scrubbed."""
    try:
        text = str(orjson.loads(body).get("message", ""))
    except (ValueError, AttributeError):
        text = body.decode(errors="replace")
    return scrub(text, prepared.target, prepared.call)


async def run_answer(streams: EdgeStreams, prepared: Prepared) -> tuple[int, str]:
    """(status, text) of ``/run``: the command's output, or why it failed."""
    status, text = await run_on_edge(streams, prepared.target.edge, prepared.path,
                                     prepared.query)
    return status, scrub(text, prepared.target, prepared.call).rstrip("\n")


async def open_logs(streams: EdgeStreams, prepared: Prepared) -> LogReply:
    edge = prepared.target.edge
    return await streams.open_logs(edge.name, edge.client, prepared.path, prepared.query,
                                   prepared.follow)


async def relay_logs(edge: LogReply, write: Callable[[bytes], Awaitable[None]]) -> None:
    """Passes the edge's log body on until it ends (an edge that goes away ends it)."""
    while chunk := await edge.chunk():
        await write(chunk)
