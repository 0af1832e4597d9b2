"""GatedClient: an edge cluster's client that refuses object reads and writes at once while
the cluster is not admitted, so no worker waits on a lost cluster's timeouts.

Lists and watches pass (the informers keep trying, with their own backoff, and
notice the return); ``ungated`` is the same connection for the failback
clean-up, which must write before the cluster is admitted again. A refused call
raises KubeError 503 ``EdgeClusterNotAdmitted``: the work queue retries the key
with its backoff, never in a hot loop.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from syncer.kube import Obj
from syncer.kube.apis import ResourceType
from syncer.kube.client import JSON, KubeClient, KubeError

NOT_ADMITTED = "EdgeClusterNotAdmitted"


class GatedClient(KubeClient):
    def __init__(self, inner: KubeClient, is_open: Callable[[str], bool]) -> None:
        # The same connection (ApiClient and session) as ``inner``; closed once, by either.
        self.__dict__.update(inner.__dict__)
        self.ungated = inner
        self._is_open = is_open

    def _check(self) -> None:
        if not self._is_open(self.name):
            raise KubeError(503, NOT_ADMITTED, f"edge cluster {self.name} is unreachable or "
                            "not re-admitted yet; the call waits for its return")

    async def request(self, method: str, path: str, *, query: Any = None, body: Any = None,
                      content_type: str = JSON, timeout: float | tuple[float, float] | None = None,
                      decode: bool = True) -> Any:
        if method != "GET":
            self._check()
        return await super().request(method, path, query=query, body=body,
                                     content_type=content_type, timeout=timeout, decode=decode)

    async def get(self, rt: ResourceType, name: str, namespace: str | None = None) -> Obj:
        self._check()
        return await super().get(rt, name, namespace)
