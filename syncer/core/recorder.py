"""EventRecorder: Events in a tenant cluster about the tenant's own objects.

Repeats of the same (object, reason, message) within ten minutes bump the
count of one Event instead of writing a new one, as the kubelet's recorder does,
so a pod retried every few seconds does not flood the tenant.
"""

from __future__ import annotations

import socket

import structlog
from cachetools import TTLCache

from syncer.core.conditions import now_rfc3339
from syncer.core.names import short_hash
from syncer.kube import Obj
from syncer.kube.apis import EVENTS
from syncer.kube.client import KubeClient, KubeError

log = structlog.get_logger(__name__)
COMPONENT = "fusionvc"


def involved_ref(obj: Obj) -> Obj:
    meta = obj["metadata"]
    ref = {"apiVersion": obj.get("apiVersion", "v1"), "kind": obj.get("kind", ""),
           "name": meta["name"], "uid": meta.get("uid", "")}
    if meta.get("namespace"):
        ref["namespace"] = meta["namespace"]
    if meta.get("resourceVersion"):
        ref["resourceVersion"] = meta["resourceVersion"]
    return ref


def new_event(obj: Obj, event_type: str, reason: str, message: str, now: str) -> Obj:
    ref = involved_ref(obj)
    name = f"{ref['name'][:200]}.{short_hash(ref['uid'] + reason + message + now, 12)}"
    return {"apiVersion": "v1", "kind": "Event",
            "metadata": {"name": name, "namespace": ref.get("namespace", "default")},
            "involvedObject": ref, "type": event_type, "reason": reason,
            "message": message[:1024], "count": 1, "firstTimestamp": now, "lastTimestamp": now,
            "source": {"component": COMPONENT, "host": socket.gethostname()},
            "reportingComponent": COMPONENT, "reportingInstance": socket.gethostname()}


class EventRecorder:
    def __init__(self) -> None:
        self._recent: TTLCache[tuple[str, str, str, str], tuple[str, str, int]] = TTLCache(
            maxsize=20_000, ttl=600)

    async def record(self, client: KubeClient, obj: Obj, event_type: str, reason: str,
                     message: str) -> None:
        """Writes or bumps the Event; a failure is logged, never raised (events are best effort)."""
        uid = obj["metadata"].get("uid", "")
        cache_key = (client.name, uid, reason, message)
        now = now_rfc3339()
        try:
            seen = self._recent.get(cache_key)
            if seen is not None:
                namespace, name, count = seen
                await client.patch(EVENTS, name, {"count": count + 1, "lastTimestamp": now},
                                   namespace=namespace)
                self._recent[cache_key] = (namespace, name, count + 1)
                return
            event = new_event(obj, event_type, reason, message, now)
            namespace = event["metadata"]["namespace"]
            await client.create(EVENTS, event, namespace=namespace)
            self._recent[cache_key] = (namespace, event["metadata"]["name"], 1)
        except KubeError as err:
            self._recent.pop(cache_key, None)
            log.warning("could not record event", cluster=client.name, reason=reason,
                        error=str(err))

    async def warn(self, client: KubeClient, obj: Obj, reason: str, message: str) -> None:
        await self.record(client, obj, "Warning", reason, message)
