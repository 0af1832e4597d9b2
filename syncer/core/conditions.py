"""Status conditions, the Kubernetes way (pure): set one, keep transition times honest."""

from __future__ import annotations

import datetime as dt

from syncer.kube import Obj


def now_rfc3339() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


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
