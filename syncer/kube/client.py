"""KubeClient: JSON REST calls to one cluster, with a kubernetes-asyncio ApiClient's settings.

kubernetes-asyncio supplies the kubeconfig (TLS files, tokens and their refresh,
proxies); the calls and watches go over kube/http1.py's lean HTTP/1.1 pool, or over
aiohttp through a proxy (kube/transport.py decides); this layer speaks in plain dicts,
because the
generated model classes cost several times the memory of the JSON they hold
and fusionvc caches every pod it syncs. Responses and watch events are parsed
with orjson: with the compaction of kube/compact.py, a third less CPU per event
than the standard library. Every call has a timeout. A client given a WriteLimiter
(kube/limiter.py) waits for its token before each write; reads and watches never wait.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping
from contextvars import ContextVar
from typing import Any
from urllib.parse import urlencode, urlsplit

import aiohttp
import orjson
from kubernetes_asyncio.client import ApiClient

from syncer.kube import Obj
from syncer.kube.apis import ResourceType, resource_of
from syncer.kube.limiter import WriteLimiter
from syncer.kube.transport import client_timeout, lean_pool, session_without_env_lookups

# Counts the writes made inside one reconcile (the controller sets a fresh [0] per key), so
# the drift scan can tell a key that needed repair from one that was already right.
WRITES: ContextVar[list[int] | None] = ContextVar("fusionvc_writes", default=None)
# Requests this process made, by (cluster name, HTTP method; WATCH for a watch, resource as
# apis.resource_of spells it): exported as fusionvc_api_requests_total (ops/metrics.py), so
# benchmarks count the syncer's own writes and can tell node heartbeats from the rest.
REQUESTS: Counter[tuple[str, str, str]] = Counter()
# At most this many resource values; the paths of the code's own kinds stay far below it, a
# path this process builds from data could not grow the series without bound.
MAX_RESOURCES = 64
_RESOURCES: set[str] = set()
# Seconds those requests took, from sending to the whole answer read (watches not counted):
# fusionvc_api_request_seconds_total; over the requests, the mean wait of a worker on a call.
REQUEST_SECONDS: defaultdict[tuple[str, str], float] = defaultdict(float)
JSON = "application/json"
Chunks = AsyncGenerator[bytes, None]  # a streamed body, as it arrives
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
def resource_label(path: str) -> str:
    """The ``resource`` label of a request to ``path``; ``other`` past MAX_RESOURCES values."""
    resource = resource_of(path)
    if resource not in _RESOURCES:
        if len(_RESOURCES) >= MAX_RESOURCES:
            return "other"
        _RESOURCES.add(resource)
    return resource


def _query_params(query: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    """Query values as the API server reads them (booleans lower-case, None left out)."""
    return [(k, str(v).lower() if isinstance(v, bool) else str(v))
            for k, v in (query or {}).items() if v is not None]


class KubeError(Exception):
    """An API call failed; ``status`` is the HTTP code (0 when the server was not reached)."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(f"{status} {reason}: {message}")
        self.status, self.reason, self.message = status, reason, message

    @property
    def not_found(self) -> bool:
        return self.status == 404

    @property
    def conflict(self) -> bool:
        return self.status == 409

    @property
    def gone(self) -> bool:
        return self.status == 410


def _unreached(err: Exception, what: str) -> KubeError:
    """A failure before any answer (refused, timed out, cut): status 0, the error's type."""
    return KubeError(0, type(err).__name__, str(err) or what)


def _error_from_body(status: int, body: bytes) -> KubeError:
    try:
        doc = orjson.loads(body)
        return KubeError(status, doc.get("reason", ""), doc.get("message", ""))
    except (ValueError, AttributeError):
        return KubeError(status, "", body[:200].decode(errors="replace"))


class KubeClient:
    """One cluster's API; owns its ApiClient (closed by ``close``). Writes wait for
    ``limiter`` when one is given (shared by the clients of a process). Calls and watches
    go through the lean HTTP/1.1 pool of kube/http1.py, or through aiohttp when
    kube/transport.py gives no pool (a proxy, or --api-transport aiohttp)."""

    def __init__(self, api: ApiClient, name: str, timeout: float = 30.0, *,
                 limiter: WriteLimiter | None = None) -> None:
        self.api = api
        self.name = name
        self.timeout = timeout
        self.limiter = limiter
        self._connector_owner = session_without_env_lookups(api)
        self._lean = lean_pool(api)
        url = urlsplit(api.configuration.host)
        self._base_path = url.path.rstrip("/")
        self._static_head = "".join(
            f"{k}: {v}\r\n" for k, v in {"Host": url.netloc, **api.default_headers,
                                          "Accept": JSON}.items())

    async def close(self) -> None:
        if self._lean is not None:
            self._lean.close()
        await self.api.close()
        await self._connector_owner.close()

    async def request(self, method: str, path: str, *, query: Mapping[str, Any] | None = None,
                      body: Any = None, content_type: str = JSON,
                      timeout: float | tuple[float, float] | None = None,
                      decode: bool = True) -> Any:
        """One call; returns the decoded JSON body (None unless ``decode``) or raises KubeError."""
        if method != "GET":
            if self.limiter is not None:
                await self.limiter.acquire()  # before the clock starts: not the server's time
            writes = WRITES.get()
            if writes is not None:
                writes[0] += 1
        REQUESTS[self.name, method, resource_label(path)] += 1
        started = time.perf_counter()
        try:
            if self._lean is not None:
                status, data = await self._lean_call(method, path, query, body, content_type,
                                                     timeout)
            else:
                resp = await self._send(method, path, query, body, content_type, timeout)
                try:
                    status, data = resp.status, await resp.read()
                finally:
                    resp.release()
        finally:
            REQUEST_SECONDS[self.name, method] += time.perf_counter() - started
        if not 200 <= status <= 299:
            raise _error_from_body(status, data)
        return orjson.loads(data) if data and decode else None

    async def _lean_call(self, method: str, path: str, query: Mapping[str, Any] | None,
                         body: Any, content_type: str,
                         timeout: float | tuple[float, float] | None) -> tuple[int, bytes]:
        assert self._lean is not None
        request = await self._request_bytes(method, path, query, body, content_type)
        try:
            answer = await self._lean.request(request,
                                              timeout if timeout is not None else self.timeout)
        except (TimeoutError, OSError) as err:
            raise _unreached(err, "connection failed") from None
        return answer.status, answer.body

    async def _request_bytes(self, method: str, path: str, query: Mapping[str, Any] | None,
                             body: Any, content_type: str) -> bytes:
        """The whole HTTP/1.1 request: head (with the current credentials) and body."""
        params = _query_params(query)
        auth: dict[str, str] = {}
        await self.api.update_params_for_auth(auth, params, ["BearerToken"])
        target = self._base_path + path + ("?" + urlencode(params) if params else "")
        payload = orjson.dumps(body) if body is not None else b""
        head = "".join((f"{method} {target} HTTP/1.1\r\n", self._static_head,
                        *(f"{k}: {v}\r\n" for k, v in auth.items()),
                        f"Content-Type: {content_type}\r\nContent-Length: {len(payload)}\r\n"
                        if body is not None else "", "\r\n"))
        return head.encode("latin-1") + payload

    async def _send(self, method: str, path: str, query: Mapping[str, Any] | None, body: Any,
                    content_type: str, timeout: float | tuple[float, float] | None) -> Any:
        params = _query_params(query)
        limit = timeout if timeout is not None else self.timeout
        try:
            return await self._call(method, path, params, body, content_type, limit)
        except (aiohttp.ClientError, TimeoutError, OSError) as err:
            raise _unreached(err, "connection failed") from None

    async def _call(self, method: str, path: str, params: list[tuple[str, str]], body: Any,
                    content_type: str, timeout: float | tuple[float, float]) -> Any:
        """The request on the ApiClient's session and credentials, without its call_api.

        call_api walks every body through sanitize_for_serialization and encodes it with
        the standard json module: for a pod, most of the client's own CPU per write.
        Bodies here are plain JSON dicts already, so orjson encodes them directly.
        """
        api, rest = self.api, self.api.rest_client
        headers: dict[str, str] = {**api.default_headers, "Accept": JSON,
                                   "Content-Type": content_type}
        await api.update_params_for_auth(headers, params, ["BearerToken"])
        url = api.configuration.host + path
        if params:
            url += "?" + urlencode(params)
        args: dict[str, Any] = {"timeout": client_timeout(timeout), "headers": headers}
        if body is not None:
            args["data"] = orjson.dumps(body)
        if rest.proxy:
            args["proxy"] = rest.proxy
        if rest.proxy_headers:
            args["proxy_headers"] = rest.proxy_headers
        if rest.server_hostname:
            args["server_hostname"] = rest.server_hostname
        return await rest.pool_manager.request(method, url, **args)

    # ---- typed helpers over request() -------------------------------------------------

    async def get(self, rt: ResourceType, name: str, namespace: str | None = None) -> Obj:
        result: Obj = await self.request("GET", rt.path(namespace, name))
        return result

    async def list(self, rt: ResourceType, namespace: str | None = None, **query: Any) -> Obj:
        result: Obj = await self.request("GET", rt.path(namespace), query=query)
        return result

    # Writes return nothing: the informers deliver the new state, and decoding a pod
    # nobody reads costs CPU and leaves garbage behind every write.

    async def create(self, rt: ResourceType, obj: Obj, namespace: str | None = None) -> None:
        await self.request("POST", rt.path(namespace), body=obj, decode=False)

    async def replace(self, rt: ResourceType, obj: Obj, subresource: str | None = None) -> None:
        meta = obj["metadata"]
        path = rt.path(meta.get("namespace"), meta["name"], subresource)
        await self.request("PUT", path, body=obj, decode=False)

    async def patch(self, rt: ResourceType, name: str, patch: Obj, namespace: str | None = None,
                    subresource: str | None = None, content_type: str = MERGE_PATCH) -> None:
        path = rt.path(namespace, name, subresource)
        await self.request("PATCH", path, body=patch, content_type=content_type, decode=False)

    async def delete(self, rt: ResourceType, name: str, namespace: str | None = None, *,
                     uid: str | None = None, grace_seconds: int | None = None,
                     propagation: str | None = "Background") -> Obj | None:
        """Deletes, guarded by a UID precondition when given; a missing object is no error."""
        opts: Obj = {"apiVersion": "v1", "kind": "DeleteOptions"}
        if uid:
            opts["preconditions"] = {"uid": uid}
        if grace_seconds is not None:
            opts["gracePeriodSeconds"] = grace_seconds
        if propagation:
            opts["propagationPolicy"] = propagation
        try:
            result: Obj = await self.request("DELETE", rt.path(namespace, name), body=opts)
            return result
        except KubeError as err:
            if err.not_found:
                return None
            raise

    async def watch(self, rt: ResourceType, resource_version: str, *,
                    timeout_seconds: int, read_timeout: float, namespace: str | None = None,
                    on_connected: Callable[[], None] | None = None,
                    **query: Any) -> AsyncIterator[Obj]:
        """Yields watch events (dicts with type and object) until the server ends the watch."""
        q = {"watch": True, "allowWatchBookmarks": True, "resourceVersion": resource_version,
             "timeoutSeconds": timeout_seconds, **query}
        params = {k: v for k, v in q.items() if v is not None}
        path = rt.path(namespace)
        REQUESTS[self.name, "WATCH", resource_label(path)] += 1
        chunks = (self._lean_chunks(path, params, read_timeout, on_connected)
                  if self._lean is not None else
                  self._aiohttp_chunks(path, params, read_timeout, on_connected))
        # Not a line iterator over the stream: aiohttp's refuses lines over 128 KiB, and
        # one event carries a whole object (a Secret may hold 1 MiB).
        pending: list[bytes] = []
        try:
            async for chunk in chunks:
                if b"\n" not in chunk:
                    pending.append(chunk)  # a large event comes in pieces: joined once
                    continue
                if pending:
                    pending.append(chunk)
                    chunk, pending = b"".join(pending), []
                *lines, rest = chunk.split(b"\n")
                if rest:
                    pending.append(rest)
                for line in lines:
                    if line.strip():
                        yield orjson.loads(line)
        finally:
            await chunks.aclose()  # its connection, when the caller stops early

    async def _lean_chunks(self, path: str, params: Mapping[str, Any], read_timeout: float,
                           on_connected: Callable[[], None] | None) -> Chunks:
        assert self._lean is not None
        request = await self._request_bytes("GET", path, params, None, JSON)
        try:
            opened = await self._lean.stream(request, self.timeout, read_timeout)
        except (TimeoutError, OSError) as err:
            raise _unreached(err, "connection failed") from None
        try:
            if opened.chunks is None:
                raise _error_from_body(opened.status, opened.body)
            if on_connected is not None:
                on_connected()
            while chunk := await opened.chunks.read():
                yield chunk
        except (TimeoutError, OSError) as err:
            raise _unreached(err, "watch connection lost") from None
        finally:
            opened.close()

    async def _aiohttp_chunks(self, path: str, params: Mapping[str, Any], read_timeout: float,
                              on_connected: Callable[[], None] | None) -> Chunks:
        resp = await self._send("GET", path, params, None, JSON, (self.timeout, read_timeout))
        try:
            if resp.status != 200:
                raise _error_from_body(resp.status, await resp.read())
            if on_connected is not None:
                on_connected()
            async for chunk in resp.content.iter_any():
                yield chunk
        except (aiohttp.ClientError, TimeoutError) as err:
            raise _unreached(err, "watch connection lost") from None
        finally:
            resp.release()
