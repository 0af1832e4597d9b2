"""Echoes of the pod Secrets' own writes: the watch events that show exactly what was sent.

Each pod that mounts a ServiceAccount token (the Kubernetes default) gets a Secret on
its edge (pod_secrets): created before the edge pod, updated when its tokens are
renewed, and removed after the pod. Each of those writes came back as an edge event
that queued the pod's PodSecret key, and its reconcile found the Secret as just
written. Each write is noted just before it is sent (its event may come before its
answer); the one event showing the Secret exactly as written (or gone) is not queued.
Any other event is, and so is every event once a note is older than a watch's
latency. A create's key is queued once instead, some seconds later (pod_secrets). A
Secret whose removal is noted is not removed twice (``removing``).
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager

from cachetools import TTLCache

from syncer.kinds.pod_echoes import noted
from syncer.kinds.pod_tokens import secret_differs
from syncer.kube import Obj

TTL_S = 60.0
GONE: Obj = {}  # the note of a delete


def _key(cluster: str, obj: Obj) -> tuple[str, str, str]:
    meta = obj["metadata"]
    return cluster, meta.get("namespace", ""), meta["name"]


class SecretEchoes:
    """Notes of pod Secret writes sent, by (cluster, namespace, name)."""

    def __init__(self, maxsize: int = 100_000, ttl: float = TTL_S) -> None:
        self._sent: TTLCache[tuple[str, str, str], Obj] = TTLCache(maxsize=maxsize, ttl=ttl)

    def writing(self, cluster: str, secret: Obj,
                deleting: bool = False) -> AbstractAsyncContextManager[None]:
        """While the write of ``secret`` (its removal with ``deleting``) is sent."""
        return noted(self._sent, _key(cluster, secret), GONE if deleting else secret)

    def removing(self, cluster: str, secret: Obj) -> bool:
        """Its removal was sent and its event has not come yet."""
        return self._sent.get(_key(cluster, secret)) is GONE

    def is_echo(self, cluster: str, old: Obj | None, new: Obj | None) -> bool:
        """The event shows a noted write exactly (and takes its note)."""
        obj = new if new is not None else old
        if obj is None or not self._sent:
            return False
        key = _key(cluster, obj)
        sent = self._sent.get(key)
        if sent is None:
            return False
        if (new is None) != (sent is GONE) or (new is not None and secret_differs(new, sent)):
            return False
        del self._sent[key]
        return True
