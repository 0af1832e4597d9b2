"""Heartbeats of virtual nodes: when each node Lease is renewed, and what it says.

Owns the timing of the only periodic tenant write per virtual node. As a kubelet
does, the syncer renews a virtual node's Lease every ``heartbeat`` seconds and
writes ``leaseDurationSeconds`` as four renew intervals (the kubelet's
nodeLeaseRenewIntervalFraction of 0.25), never below the kubelet's 40 s. The
Node's status is written only when it changes (VirtualNodeSyncer), never as a
heartbeat: the tenant's node lifecycle controller counts a renewed Lease as the
node's heartbeat.

A renewal happens when one is due, whatever else wakes the node's reconcile (a pod
bound, an edge node update, the drift scan): ``RenewalSchedule`` remembers when
each Lease was last renewed by this process. A new leader, or a restarted syncer,
renews every Lease on its first reconcile.

The tenant controller-manager must allow more than one renew interval:
``recommended_grace_period_s`` gives the ``--node-monitor-grace-period`` that keeps
Kubernetes' own margin (50 s for a 10 s renewal: four renewals may be lost).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Hashable

DEFAULT_HEARTBEAT_S = 10.0  # the kubelet's renew interval (40 s lease x 0.25)
KUBELET_LEASE_SECONDS = 40  # the kubelet's nodeLeaseDurationSeconds
RENEW_FRACTION = 0.25  # the kubelet's nodeLeaseRenewIntervalFraction
KCM_DEFAULT_GRACE_S = 50  # kube-controller-manager's --node-monitor-grace-period (1.32+)
GRACE_RENEWALS = 5  # grace period / renew interval of Kubernetes' defaults (50 s / 10 s)


def lease_duration_s(heartbeat_s: float) -> int:
    """``leaseDurationSeconds`` of a Lease renewed every ``heartbeat_s`` (kubelet's rule)."""
    return max(KUBELET_LEASE_SECONDS, math.ceil(heartbeat_s / RENEW_FRACTION))


def recommended_grace_period_s(heartbeat_s: float) -> int:
    """The tenant controller-manager's ``--node-monitor-grace-period`` for this heartbeat:
    five renew intervals, as Kubernetes' defaults (10 s renewal, 50 s grace), never less."""
    return max(KCM_DEFAULT_GRACE_S, math.ceil(GRACE_RENEWALS * heartbeat_s))


class RenewalSchedule:
    """When each Lease was last renewed here; whether the next renewal is due."""

    def __init__(self, heartbeat_s: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.heartbeat_s = heartbeat_s
        self.lease_seconds = lease_duration_s(heartbeat_s)
        # A requeue fires a moment early or late; within this, a renewal counts as due.
        self._slack = min(1.0, 0.05 * heartbeat_s)
        self._clock = clock
        self._renewed: dict[Hashable, float] = {}

    def due_in(self, key: Hashable) -> float:
        """Seconds until the Lease must be renewed; 0 when it is due now (or never was)."""
        last = self._renewed.get(key)
        if last is None:
            return 0.0
        left = last + self.heartbeat_s - self._clock()
        return 0.0 if left <= self._slack else left

    def renewed(self, key: Hashable) -> None:
        self._renewed[key] = self._clock()

    def forget(self, key: Hashable) -> None:
        self._renewed.pop(key, None)

    def __len__(self) -> int:
        return len(self._renewed)
