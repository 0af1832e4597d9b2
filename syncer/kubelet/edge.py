"""Calls to an edge API server's pod subresources for the kubelet endpoint.

Streams (``logs -f``, exec, attach, port-forward) live as long as the tenant
keeps them open, so they never take a connection of the syncer's own pool
(``KubeClient``'s connector is bounded and shared with every reconcile): each
edge gets a streaming session of its own, built from the same configuration as
its KubeClient (server URL, CA, client certificate, bearer token, proxy) and
rebuilt when the edge's client changes. Only connecting has a timeout; a
stream may stay quiet for as long as the tenant follows it.

Nothing from here reaches the tenant but the edge's answer: failures to reach
an edge are :class:`EdgeUnreachable`, whose message names the cluster only.
"""

from __future__ import annotations

import ssl
from collections.abc import Sequence
from dataclasses import dataclass

import aiohttp
from multidict import CIMultiDict

from syncer.kube.client import KubeClient, env_proxy

CONNECT_TIMEOUT_S = 10.0


class EdgeUnreachable(Exception):
    """The edge API server did not answer (refused, timed out, TLS failure)."""

    def __init__(self, edge: str) -> None:
        super().__init__(f"edge cluster {edge} is unreachable")
        self.edge = edge


def ssl_context_of(client: KubeClient) -> ssl.SSLContext:
    """The TLS settings of the edge's kubeconfig, as kubernetes-asyncio builds them."""
    conf = client.api.configuration
    context = ssl.create_default_context(cafile=conf.ssl_ca_cert)
    if conf.cert_file:
        context.load_cert_chain(conf.cert_file, keyfile=conf.key_file)
    if not conf.verify_ssl:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


@dataclass
class _EdgeSession:
    client: KubeClient
    session: aiohttp.ClientSession
    proxy: str | None


class EdgeStreams:
    """One streaming session per edge cluster; ``close`` ends them all."""

    def __init__(self) -> None:
        self._sessions: dict[str, _EdgeSession] = {}

    async def _session(self, edge: str, client: KubeClient) -> _EdgeSession:
        have = self._sessions.get(edge)
        if have is not None and have.client is client:
            return have
        if have is not None:
            await have.session.close()
        connector = aiohttp.TCPConnector(limit=0, ssl=ssl_context_of(client),
                                         keepalive_timeout=30)
        host = client.api.configuration.host
        proxy = client.api.rest_client.proxy or env_proxy(host)
        made = _EdgeSession(client, aiohttp.ClientSession(connector=connector, trust_env=False,
                                                          auto_decompress=False), proxy)
        self._sessions[edge] = made
        return made

    async def _auth_headers(self, client: KubeClient) -> CIMultiDict[str]:
        headers: CIMultiDict[str] = CIMultiDict()
        for auth in (await client.api.configuration.auth_settings()).values():
            headers[auth["key"]] = auth["value"]
        return headers

    async def websocket_args(self, edge: str, client: KubeClient, path: str
                             ) -> tuple[aiohttp.ClientSession, str, CIMultiDict[str], str | None]:
        """(session, URL, auth headers, proxy) for a WebSocket call to the edge."""
        found = await self._session(edge, client)
        url = client.api.configuration.host + path
        return found.session, url, await self._auth_headers(client), found.proxy

    async def open(self, edge: str, client: KubeClient, method: str, path: str,
                   query: Sequence[tuple[str, str]],
                   headers: CIMultiDict[str]) -> aiohttp.ClientResponse:
        """Sends one call to the edge and returns its response (headers read, body not)."""
        found = await self._session(edge, client)
        conf = client.api.configuration
        send = CIMultiDict(headers)
        send.update(await self._auth_headers(client))
        timeout = aiohttp.ClientTimeout(total=None, connect=CONNECT_TIMEOUT_S,
                                        sock_connect=CONNECT_TIMEOUT_S, sock_read=None)
        try:
            return await found.session.request(
                method, conf.host + path, params=list(query), headers=send, timeout=timeout,
                proxy=found.proxy, server_hostname=client.api.rest_client.server_hostname)
        except (aiohttp.ClientError, TimeoutError, OSError) as err:
            raise EdgeUnreachable(edge) from err

    async def close(self) -> None:
        for found in self._sessions.values():
            await found.session.close()
        self._sessions.clear()
