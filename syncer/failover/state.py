"""The reachability of one edge cluster as a pure state machine (no I/O, no clock of its own).

    Reachable --unreachable--> Lost(since T) --T + grace--> FailedOver
        ^                        |    ^                        |
        |                    reachable |unreachable        reachable
        |                        v    |                        v
        +--stable for R-- Recovering(since S, lost since T, failed over or not)

``step`` takes the current state, one observation (reachable or not) and the
time, and returns the next state. A cluster that comes back before its grace
period ends is admitted again at once (nothing was moved: a flap changes
nothing); one whose pods were moved is re-admitted only after it stayed
reachable for ``recovery_stable_seconds`` *and* its leftovers were cleaned
(``readmit``, called by the apply layer). Going unreachable again while
recovering keeps the original loss time, so a flapping cluster does not
restart its grace period.

The state is written to ``EdgeCluster.status.failover`` (``to_status``) and read
back on a restart (``from_status``), so timing survives the syncer.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from enum import StrEnum

from syncer.fleet.specs import FailoverSpec
from syncer.kube import Obj


class Phase(StrEnum):
    REACHABLE = "Reachable"
    LOST = "Lost"
    FAILED_OVER = "FailedOver"
    RECOVERING = "Recovering"


@dataclass(frozen=True)
class Reachability:
    phase: Phase = Phase.REACHABLE
    changed_at: float | None = None  # when the cluster last became (un)reachable
    lost_since: float | None = None
    recovering_since: float | None = None
    failed_over: bool = False  # pods were moved away: leftovers to clean before re-admission

    @property
    def reachable(self) -> bool:
        return self.phase in (Phase.REACHABLE, Phase.RECOVERING)

    @property
    def admitted(self) -> bool:
        """fusionvc may place pods there and write to it (nothing moved is left to clean)."""
        return self.phase is Phase.REACHABLE or (
            self.phase is Phase.RECOVERING and not self.failed_over)

    @property
    def moving(self) -> bool:
        """The grace period is over: pods that may move are moved, bare pods fail."""
        return self.phase is Phase.FAILED_OVER

    def failback_due(self, now: float, policy: FailoverSpec) -> bool:
        """Reachable for long enough after a failover: clean the leftovers, then ``readmit``."""
        return (self.phase is Phase.RECOVERING and self.failed_over
                and self.recovering_since is not None
                and now - self.recovering_since >= policy.recovery_stable_seconds)


def step(state: Reachability, reachable: bool, now: float, policy: FailoverSpec) -> Reachability:
    """The next state after one observation at time ``now`` (seconds since the epoch)."""
    if reachable:
        return _seen_reachable(state, now, policy)
    return _seen_unreachable(state, now, policy)


def _seen_unreachable(state: Reachability, now: float, policy: FailoverSpec) -> Reachability:
    if state.phase is Phase.REACHABLE:
        return Reachability(Phase.LOST, changed_at=now, lost_since=now)
    lost_since = state.lost_since if state.lost_since is not None else now
    changed_at = now if state.phase is Phase.RECOVERING else state.changed_at
    expired = state.failed_over or now - lost_since >= policy.grace_period_seconds
    return Reachability(Phase.FAILED_OVER if expired else Phase.LOST, changed_at=changed_at,
                        lost_since=lost_since, failed_over=expired)


def _seen_reachable(state: Reachability, now: float, policy: FailoverSpec) -> Reachability:
    if state.phase is Phase.REACHABLE:
        return state
    if state.phase is not Phase.RECOVERING:
        state = replace(state, phase=Phase.RECOVERING, changed_at=now, recovering_since=now)
    assert state.recovering_since is not None
    stable = now - state.recovering_since >= policy.recovery_stable_seconds
    if stable and not state.failed_over:
        return Reachability(Phase.REACHABLE, changed_at=state.changed_at)
    return state


def readmit(state: Reachability) -> Reachability:
    """After the failback clean-up: an ordinary reachable cluster again."""
    return Reachability(Phase.REACHABLE, changed_at=state.changed_at)


# ---- persistence in EdgeCluster.status.failover ----------------------------------------------

def rfc3339(t: float | None) -> str | None:
    if t is None:
        return None
    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _epoch(value: object) -> float | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def to_status(state: Reachability) -> Obj:
    """Every key always present ("" for no time): a merge patch then clears old times, and
    the status written compares equal to the one read back (no rewrite every refresh)."""
    return {"phase": state.phase.value, "lastTransitionTime": rfc3339(state.changed_at) or "",
            "lostSince": rfc3339(state.lost_since) or "",
            "recoveringSince": rfc3339(state.recovering_since) or "",
            "failedOver": state.failed_over}


def from_status(status: Obj | None) -> Reachability:
    """The state a previous syncer wrote; Reachable when there is none (or it is unreadable)."""
    saved = (status or {}).get("failover") or {}
    try:
        phase = Phase(saved.get("phase", Phase.REACHABLE.value))
    except ValueError:
        return Reachability()
    state = Reachability(phase, changed_at=_epoch(saved.get("lastTransitionTime")),
                         lost_since=_epoch(saved.get("lostSince")),
                         recovering_since=_epoch(saved.get("recoveringSince")),
                         failed_over=bool(saved.get("failedOver")))
    if phase is not Phase.REACHABLE and state.lost_since is None:
        return Reachability()  # inconsistent: start over rather than act on it
    if phase is Phase.RECOVERING and state.recovering_since is None:
        return replace(state, phase=Phase.LOST if not state.failed_over else Phase.FAILED_OVER)
    return state


def conditions(state: Reachability, edge: str) -> tuple[tuple[str, str, str, str], ...]:
    """The EdgeCluster conditions (type, status, reason, message) that show the state."""
    lost = rfc3339(state.lost_since)
    reachable = {
        Phase.REACHABLE: ("True", "Reachable", "the API server answers fusionvc's probes"),
        Phase.LOST: ("False", "Lost", f"no answer since {lost}; its pods are NotReady and "
                     "move when the grace period ends"),
        Phase.FAILED_OVER: ("False", "FailedOver", f"no answer since {lost}; pods that may "
                            "move were moved to reachable clusters"),
        Phase.RECOVERING: ("True", "Recovering", "answers again; re-admitted once it stays "
                           "reachable for the recovery period"),
    }[state.phase]
    moved = ("True", "PodsMoved", f"pods were moved away from {edge}; their leftover copies "
             "are deleted before it is re-admitted") if state.failed_over else \
        ("False", "NotFailedOver", "no pod was moved away from this cluster")
    return (("Reachable", *reachable), ("FailedOver", *moved))
