"""Status conditions, the Kubernetes way (pure): set one, keep transition times honest."""

from __future__ import annotations

import time

from syncer.kube import Obj

# The text changes once a second; pods' status mirrors ask for it several times per pod.
_LAST_SECOND: list[tuple[int, str]] = [(-1, "")]


def now_rfc3339() -> str:
    second = int(time.time())
    cached = _LAST_SECOND[0]
    if cached[0] != second:
        cached = (second, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(second)))
        _LAST_SECOND[0] = cached
    return cached[1]


def set_condition(conditions: list[Obj] | None, ctype: str, status: str, reason: str,
                  message: str, now: str | None = None,
                  time_field: str = "lastTransitionTime") -> list[Obj]:
    """A new list with the condition set; its transition time moves only when status changes."""
    now = now or now_rfc3339()
    result = [dict(c) for c in conditions or []]
    for cond in result:
        if cond.get("type") == ctype:
            if cond.get("status") != status:
                cond[time_field] = now
            cond.update(status=status, reason=reason, message=message)
            return result
    result.append({"type": ctype, "status": status, "reason": reason, "message": message,
                   time_field: now})
    return result


def get_condition(obj: Obj, ctype: str) -> Obj | None:
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == ctype:
            return dict(cond)
    return None


def same_condition(obj: Obj, ctype: str, status: str, reason: str, message: str) -> bool:
    cond = get_condition(obj, ctype)
    return cond is not None and (cond.get("status"), cond.get("reason"),
                                 cond.get("message")) == (status, reason, message)
