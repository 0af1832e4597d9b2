"""Tenant pod status written up from the edge pod, as the virtual node's kubelet would.

The edge pod is the source of truth for a running pod's status: its mirrored
fields (``STATUS_FIELDS``) are copied up with the tenant generation the edge copy
was written from as ``observedGeneration``, the binding's ``PodScheduled=True`` is
kept when the edge's kubelet leaves it out (kwok does), and a field the edge no
longer reports is cleared. fusionvc may add one condition it reports itself
(``PodResizePending``, from ``pod_resize.py``). A status-only change of a tenant
pod is fusionvc's own write, so it queues nothing. An edge status that holds only
what the edge API server sets at create (``phase: Pending``) is no kubelet's report
yet: nothing goes up (the tenant pod is Pending already; writing its
``observedGeneration`` alone was one more status write per pod, issue 16).

Where there is no edge status to mirror, fusionvc writes the kubelet's own
verdict: ``Failed`` for a bound pod its node cannot admit, or whose edge copy
vanished (``EdgePodLost``), with a Warning Event.

Pure helpers plus the Failed write; the mirrored status is written by
``pod_status_writes.py``, once per edge status; the pod syncer (``pods.py``) decides when.
"""

from __future__ import annotations

import structlog

from syncer.core.conditions import get_condition, now_rfc3339
from syncer.core.recorder import EventRecorder
from syncer.fleet.conn import TenantConn
from syncer.kinds.pod_translate import tenant_generation
from syncer.kube import Obj
from syncer.kube.apis import PODS

log = structlog.get_logger(__name__)
TERMINAL = ("Succeeded", "Failed")
STATUS_FIELDS = ("phase", "conditions", "message", "reason", "podIP", "podIPs", "hostIP",
                 "hostIPs", "startTime", "containerStatuses", "initContainerStatuses",
                 "ephemeralContainerStatuses", "resize", "resourceClaimStatuses")
LOST_MESSAGE = "the pod's edge copy disappeared; its controller will replace it"


def status_only_change(old: Obj, new: Obj) -> bool:
    """Only the status moved (metadata that matters and spec as they were)."""
    o, n = old["metadata"], new["metadata"]
    same_meta = all(o.get(f) == n.get(f) for f in (
        "labels", "annotations", "deletionTimestamp", "deletionGracePeriodSeconds",
        "finalizers", "uid"))
    return same_meta and old.get("spec") == new.get("spec")


def kubelet_reported(edge_status: Obj) -> bool:
    """The edge status says more than its API server's defaults at create (``phase:
    Pending``, and ``qosClass``, which is not mirrored): a kubelet has reported the pod."""
    return edge_status.get("phase", "Pending") != "Pending" \
        or any(k in edge_status for k in STATUS_FIELDS if k != "phase")


def translate_pod_status_up(edge_pod: Obj) -> Obj:
    """The status the tenant pod should show for this edge pod (nothing before a kubelet
    reported it).

    ``observedGeneration`` (of the status and of each condition) is the tenant generation
    the edge copy was written from: the edge pod has a generation of its own."""
    status = edge_pod.get("status") or {}
    if not kubelet_reported(status):
        return {}
    # Not copied: the values are the cached edge pod's, read-only (kube/compact.py), and
    # nothing below or in the callers changes them; only the conditions get new dicts.
    out = {k: status[k] for k in STATUS_FIELDS if k in status}
    generation = tenant_generation(edge_pod)
    if out and generation is not None:
        out["observedGeneration"] = generation
        if out.get("conditions"):
            out["conditions"] = [{**cond, "observedGeneration": generation}
                                 for cond in out["conditions"]]
    return out


def with_scheduled_condition(desired: Obj, tenant_status: Obj, now: str) -> Obj:
    """``desired`` with the PodScheduled=True condition a kubelet reports for every pod it
    runs (kubelet_pods.go, generateAPIPodStatus) when the edge's kubelet left it out (kwok
    does): the binding's own condition kept, not dropped by the mirrored list."""
    conditions = desired.get("conditions")
    if conditions is None or any(c.get("type") == "PodScheduled" for c in conditions):
        return desired
    had: Obj = next((c for c in tenant_status.get("conditions") or []
                     if c.get("type") == "PodScheduled" and c.get("status") == "True"), {})
    scheduled: Obj = {"type": "PodScheduled", "status": "True", "lastProbeTime": None,
                      "lastTransitionTime": had.get("lastTransitionTime") or now}
    if "observedGeneration" in desired:
        scheduled["observedGeneration"] = desired["observedGeneration"]
    return {**desired, "conditions": [*conditions, scheduled]}


def status_patch(tenant_status: Obj, desired: Obj) -> Obj | None:
    """The fields of the tenant status to write, or None when it is already right.

    A mirrored field the edge no longer reports is cleared, once the edge status says
    anything at all (an empty edge status is a pod not yet seen, not a reset)."""
    changed: Obj = {k: v for k, v in desired.items() if tenant_status.get(k) != v}
    if desired:
        changed.update({k: None for k in STATUS_FIELDS
                        if k in tenant_status and k not in desired and k != "conditions"})
    return changed or None


def mirrored_status_patch(tpod: Obj, epod: Obj, extra: Obj | None, now: str) -> Obj | None:
    """The tenant status patch for the edge pod's status; ``extra`` is one more condition
    fusionvc reports itself (its transition time kept while its status stays)."""
    desired = with_scheduled_condition(translate_pod_status_up(epod),
                                       tpod.get("status") or {}, now)
    if extra is not None:
        had = get_condition(tpod, extra["type"]) or {}
        since = had.get("lastTransitionTime") if had.get("status") == extra["status"] \
            else None
        desired["conditions"] = [*(desired.get("conditions") or []), {
            **extra, "observedGeneration": tpod["metadata"].get("generation"),
            "lastTransitionTime": since or now, "lastProbeTime": None}]
    return status_patch(tpod.get("status") or {}, desired)


async def fail_pod(tenant: TenantConn, recorder: EventRecorder, tpod: Obj, reason: str,
                   message: str) -> bool:
    """Failed with the reason, and a Warning Event, as a kubelet fails a pod it cannot run
    (admission); False when the pod had already finished."""
    if tpod.get("status", {}).get("phase") in TERMINAL:
        return False
    meta = tpod["metadata"]
    await tenant.client.patch(PODS, meta["name"], {"status": {
        "phase": "Failed", "reason": reason, "message": message}},
        namespace=meta["namespace"], subresource="status")
    await recorder.warn(tenant.client, {"kind": "Pod", **tpod}, reason, message)
    return True


async def mark_lost(tenant: TenantConn, recorder: EventRecorder, tpod: Obj) -> None:
    """The edge copy of a running pod vanished: Failed, so its controller replaces it."""
    if await fail_pod(tenant, recorder, tpod, "EdgePodLost", LOST_MESSAGE):
        meta = tpod["metadata"]
        log.warning("edge pod lost", tenant=tenant.name,
                    pod=f"{meta['namespace']}/{meta['name']}", at=now_rfc3339())
