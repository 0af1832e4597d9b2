"""A MetricsDelivery's status from its worker's state (pure).

Condition ``Ready``: True while pushes succeed; False with the reason of the last
failure (``ReceiverUnreachable``, ``CredentialsRejected``, ``ReceiverError``,
``WriteRejected``) or of a spec that cannot be used (``InvalidSpec``,
``SecretNotFound``, ``InvalidCredentials``); Unknown before the first push.
"""

from __future__ import annotations

import datetime as dt

from syncer.core.conditions import now_rfc3339, set_condition
from syncer.kube import Obj
from syncer.metricsdelivery.worker import DeliveryState

READY = "Ready"


def _rfc3339(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def delivery_status(obj: Obj, state: DeliveryState, now: str | None = None) -> Obj:
    have = obj.get("status") or {}
    ready = {None: "Unknown", True: "True", False: "False"}[state.ready]
    status: Obj = {
        "observedGeneration": obj["metadata"].get("generation"),
        "conditions": set_condition(have.get("conditions"), READY, ready, state.reason,
                                    state.message, now or now_rfc3339()),
        "samplesSent": state.sent, "samplesDropped": state.dropped,
        "samplesRejected": state.rejected, "samplesBuffered": state.buffered,
    }
    if state.last_success is not None:
        status["lastSuccessTime"] = _rfc3339(state.last_success)
    elif have.get("lastSuccessTime"):
        status["lastSuccessTime"] = have["lastSuccessTime"]
    return status


def refused_status(obj: Obj, reason: str, message: str) -> Obj:
    """Status of a delivery that cannot run (bad spec, missing Secret)."""
    return delivery_status(obj, DeliveryState(ready=False, reason=reason, message=message))
