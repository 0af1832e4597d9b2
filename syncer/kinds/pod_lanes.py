"""The queue lane of an edge pod's event (core/queue.py): what the tenant waits for goes first.

An edge copy's event finishes what was started, and by default it is served ahead of
the tenant's pods still to be created (``STARTED``). That is right for what a tenant
waits for: its pod running, ready or not any more, failing or restarting, finishing,
or going away. It is wrong for a pod that is still starting as it should (created,
Pending, its containers being created): that status is soon replaced by Running, and
served at once it costs a status write of its own, where waiting would have merged it
with the Running that follows (issue 16: 1.1 tenant status writes per pod in a
rollout instead of 1.0). So such an event waits its turn with the tenant's other work
(``NEW``), and so does an event that moved nothing of the status (an echo of
fusionvc's own update of the copy). Nothing is lost by waiting: when the Running
event comes while the key still waits, the queue moves the key up to ``STARTED``.

Pure: the pod syncer (``pods.py``) asks it for every edge pod event.
"""

from __future__ import annotations

from syncer.core.queue import NEW, STARTED
from syncer.kube import Obj

# Waiting reasons of a container that is being started as it should (the kubelet's own,
# pkg/kubelet/kubelet_pods.go); any other (ErrImagePull, CrashLoopBackOff, ...) is news.
STARTING_REASONS = frozenset({"ContainerCreating", "PodInitializing"})


def _container_starting(status: Obj) -> bool:
    """One container status that says nothing went wrong yet."""
    if status.get("restartCount"):
        return False
    state = status.get("state") or {}
    terminated = state.get("terminated")
    if terminated is not None and terminated.get("exitCode") != 0:
        return False  # an init container that failed
    waiting = state.get("waiting")
    return waiting is None or waiting.get("reason") in STARTING_REASONS


def starting_as_it_should(pod: Obj) -> bool:
    """Pending, not being deleted, with no reason given and no container in trouble."""
    if pod["metadata"].get("deletionTimestamp"):
        return False
    status = pod.get("status") or {}
    if status.get("phase", "Pending") != "Pending" or status.get("reason"):
        return False
    containers = (*(status.get("initContainerStatuses") or ()),
                  *(status.get("containerStatuses") or ()))
    return all(_container_starting(c) for c in containers)


def edge_pod_lane(old: Obj | None, new: Obj | None) -> int:
    """``STARTED`` for what the tenant waits for, ``NEW`` for a pod starting as it should or
    an event that moved nothing of the status."""
    if new is None or new["metadata"].get("deletionTimestamp"):
        return STARTED  # going away: the tenant's graceful delete waits for it
    if old is not None and old.get("status") == new.get("status"):
        return NEW
    return NEW if starting_as_it_should(new) else STARTED
