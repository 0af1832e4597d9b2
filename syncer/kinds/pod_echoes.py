"""Echoes: the watch events that fusionvc's own writes for a new pod send back to it.

Placing a pod is one reconcile: the edge copy created, then the tenant pod bound. Each
write comes back as a watch event (the copy ADDED on the edge, the binding on the tenant)
that queued the pod's key again, and reconciling it found nothing to do: in a rollout,
2.5-2.95 Pod reconciles per pod, 2.0 without these (issue 16). A write is noted just
before it is sent (its event may arrive before its answer), and the one event that shows
exactly that write is not queued. Every other event of the pod is queued as before; an
echo whose reconcile did not finish needs no queueing, since a failure queues the key
again by itself.

Deleting a pod has two more: the edge copy's graceful delete comes back as the copy
marked for deletion, and the tenant pod's final delete (once its copy is gone) as the
pod's grace cut to zero, then the pod gone. Nothing is left to do for either: in a
scale-down, 4.8-5.1 Pod reconciles per pod and 1.16-1.36 final deletes (the second
sent on the grace-cut event, before the pod's removal reached the cache).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Hashable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from cachetools import TTLCache

from syncer.core import markers
from syncer.kinds.pod_status import kubelet_reported
from syncer.kube import Obj

PLACEMENT_ANNOTATIONS = (markers.EDGE_CLUSTER, markers.EDGE_NODE)
# The API server's PodTopologyLabels admission (beta, on since 1.35) adds the node's
# topology labels to a pod at its binding.
TOPOLOGY_PREFIXES = ("topology.kubernetes.io/", "topology.k8s.io/")
TTL_S = 60.0  # an echo comes back within a watch's latency; a note older than this is stale


def binding_only_change(old: Obj, new: Obj) -> bool:
    """Only a binding moved: ``spec.nodeName`` set, the placement annotations fusionvc's
    Binding carries, the node's topology labels added, and status (all that the API
    server writes for a Binding)."""
    o, n = old["metadata"], new["metadata"]
    o_spec, n_spec = old.get("spec") or {}, new.get("spec") or {}
    node = n_spec.get("nodeName")
    if o_spec.get("nodeName") or not node:
        return False
    if not all(o.get(f) == n.get(f) for f in ("deletionTimestamp", "finalizers", "uid",
                                              "generation")):
        return False
    if not _only_topology_added(o.get("labels") or {}, n.get("labels") or {}):
        return False
    o_ann, n_ann = o.get("annotations") or {}, n.get("annotations") or {}
    if o_ann != n_ann and _without(o_ann, PLACEMENT_ANNOTATIONS) != _without(
            n_ann, PLACEMENT_ANNOTATIONS):
        return False
    return {**o_spec, "nodeName": node} == n_spec


@asynccontextmanager
async def noted(notes: TTLCache[Any, Any], key: Hashable, value: Any) -> AsyncIterator[None]:
    """``notes[key] = value`` while a write is sent (its event may come before its answer);
    a write that fails leaves no note, so every event after it is queued."""
    notes[key] = value
    try:
        yield
    except BaseException:
        notes.pop(key, None)
        raise


# What the API server changes when it marks an object for graceful deletion.
DELETION_FIELDS = frozenset(("deletionTimestamp", "deletionGracePeriodSeconds", "generation",
                             "resourceVersion", "managedFields"))


def deletion_only_change(old: Obj, new: Obj) -> bool:
    """Only the deletion moved: marked (or its grace cut), spec and status as they were."""
    o, n = old["metadata"], new["metadata"]
    if not n.get("deletionTimestamp") or old.get("spec") != new.get("spec") \
            or old.get("status") != new.get("status"):
        return False
    return all(o.get(k) == n.get(k) for k in (o.keys() | n.keys()) - DELETION_FIELDS)


def grace_cut_only(old: Obj | None, new: Obj | None) -> bool:
    """A pod already marked for deletion, marked again with a shorter grace and nothing
    else changed: the node's final delete of a copy (a kubelet's, kwok's) just before it
    is gone. Nothing in it for the tenant pod; the DELETED event that follows is."""
    return old is not None and new is not None and bool(old["metadata"].get("deletionTimestamp")) \
        and deletion_only_change(old, new)


def fresh_copy(new: Obj) -> bool:
    """An edge pod as its API server created it: no kubelet report, not being deleted."""
    return not new["metadata"].get("deletionTimestamp") \
        and not kubelet_reported(new.get("status") or {})


def _only_topology_added(old: Obj, new: Obj) -> bool:
    if old == new:
        return True
    return all(new.get(k) == v for k, v in old.items()) and all(
        k.startswith(TOPOLOGY_PREFIXES) for k in new.keys() - old.keys())


def _without(values: Obj, keys: tuple[str, ...]) -> Obj:
    return {k: v for k, v in values.items() if k not in keys}


class PodEchoes:
    """Notes of writes sent, by tenant pod UID; each note is taken by one event at most."""

    def __init__(self, maxsize: int = 50_000, ttl: float = TTL_S) -> None:
        self._created: TTLCache[str, str] = TTLCache(maxsize=maxsize, ttl=ttl)  # -> cluster
        self._bound: TTLCache[str, bool] = TTLCache(maxsize=maxsize, ttl=ttl)
        self._deleting: TTLCache[str, bool] = TTLCache(maxsize=maxsize, ttl=ttl)  # copy UIDs
        self._finishing: TTLCache[str, bool] = TTLCache(maxsize=maxsize, ttl=ttl)

    def creating(self, uid: str, cluster: str) -> None:
        self._created[uid] = cluster

    def binding(self, uid: str) -> None:
        self._bound[uid] = True

    def deleting(self, copy_uid: str) -> AbstractAsyncContextManager[None]:
        """While this syncer deletes (gracefully) the edge copy with this UID."""
        return noted(self._deleting, copy_uid, True)

    def finishing(self, uid: str) -> AbstractAsyncContextManager[None]:
        """While this syncer sends the final delete of the tenant pod with this UID."""
        return noted(self._finishing, uid, True)

    def forget(self, uid: str) -> None:
        for notes in (self._created, self._bound, self._deleting, self._finishing):
            notes.pop(uid, None)

    def is_create_echo(self, cluster: str, old: Obj | None, new: Obj | None) -> bool:
        """The ADDED event of the copy this syncer just created in ``cluster``."""
        if old is not None or new is None or not self._created:
            return False  # (a restart lists 10,000 copies with nothing noted)
        ref = markers.tenant_ref(new)
        if ref is None or self._created.get(ref[2]) != cluster:
            return False
        del self._created[ref[2]]
        return fresh_copy(new)

    def is_binding_echo(self, old: Obj | None, new: Obj | None) -> bool:
        """The tenant event of the binding this syncer just wrote, and nothing else."""
        if old is None or new is None or self._bound.pop(new["metadata"]["uid"], None) is None:
            return False
        return binding_only_change(old, new)

    def is_delete_echo(self, old: Obj | None, new: Obj | None) -> bool:
        """The edge event of the graceful delete this syncer just sent: the copy marked."""
        if old is None or new is None or not self._deleting \
                or self._deleting.pop(new["metadata"]["uid"], None) is None:
            return False
        return deletion_only_change(old, new)

    def is_finish_echo(self, old: Obj | None, new: Obj | None) -> bool:
        """A tenant event of the final delete this syncer just sent: the grace cut to zero,
        or the pod gone (which takes the note)."""
        obj = new if new is not None else old
        if obj is None or not self._finishing or obj["metadata"]["uid"] not in self._finishing:
            return False
        if new is None:
            del self._finishing[obj["metadata"]["uid"]]
            return True
        return grace_cut_only(old, new)
