"""Pure translation of pods between a tenant cluster and an edge cluster.

Down: the edge pod runs in the tenant's edge namespace on the chosen edge node,
with fusionvc's markers, without the tenant's service-account token, owner
references or scheduling constraints (already enforced by the fusion
scheduler and meaningless against edge node labels). Up: the edge pod's
status becomes the tenant pod's status.
"""

from __future__ import annotations

import copy
from typing import Any

from .. import markers
from ..edgedns.pod_dns import EdgeDNS, edge_pod_dns

Obj = dict[str, Any]

# Fields of the pod spec that make no sense in the edge cluster.
DROPPED_SPEC_FIELDS = ("nodeSelector", "affinity", "topologySpreadConstraints", "schedulerName",
                       "priority", "priorityClassName", "preemptionPolicy",
                       "serviceAccount", "deprecatedServiceAccount")
STATUS_FIELDS = ("phase", "conditions", "message", "reason", "podIP", "podIPs", "hostIP",
                 "hostIPs", "startTime", "containerStatuses", "initContainerStatuses",
                 "ephemeralContainerStatuses", "resize", "resourceClaimStatuses")
TOKEN_VOLUME_PREFIX = "kube-api-access-"


def is_token_volume(volume: Obj) -> bool:
    sources = (volume.get("projected") or {}).get("sources") or []
    return any("serviceAccountToken" in s for s in sources)


def _rewrite_env(container: Obj, namespace: str, virtual_node: str) -> None:
    """Downward-API values the tenant would see differently are written as literals."""
    literal = {"metadata.namespace": namespace, "spec.nodeName": virtual_node}
    for env in container.get("env") or []:
        path = ((env.get("valueFrom") or {}).get("fieldRef") or {}).get("fieldPath")
        if path in literal:
            env.pop("valueFrom")
            env["value"] = literal[path]


def _strip_token_volumes(spec: Obj) -> None:
    """Removes the tenant's projected service-account token: it must never reach an edge."""
    dropped = {v["name"] for v in spec.get("volumes") or [] if is_token_volume(v)}
    if not dropped:
        return
    spec["volumes"] = [v for v in spec["volumes"] if v["name"] not in dropped]
    for group in ("initContainers", "containers", "ephemeralContainers"):
        for container in spec.get(group) or []:
            mounts = container.get("volumeMounts")
            if mounts:
                container["volumeMounts"] = [m for m in mounts if m["name"] not in dropped]


def translate_pod_down(pod: Obj, *, tenant: str, edge_namespace: str, edge_node: str,
                       virtual_node: str, service_account: str = "default",
                       dns: EdgeDNS | None = None) -> Obj:
    meta = pod["metadata"]
    spec = copy.deepcopy(pod["spec"])
    for name in DROPPED_SPEC_FIELDS:
        spec.pop(name, None)
    for name in ("dnsPolicy", "dnsConfig"):  # the edge DNS for tenant names (edgedns/pod_dns)
        spec.pop(name, None)
    spec.update(edge_pod_dns(pod["spec"], meta.get("namespace", ""), dns))
    _strip_token_volumes(spec)
    for group in ("initContainers", "containers", "ephemeralContainers"):
        for container in spec.get(group) or []:
            _rewrite_env(container, meta.get("namespace", ""), virtual_node)
    spec["nodeName"] = edge_node
    spec["serviceAccountName"] = service_account
    spec["automountServiceAccountToken"] = pod["spec"].get("automountServiceAccountToken") is True
    # fusionvc's own annotations on the tenant pod (placement, written by the binding) are
    # not the tenant's: copying them would patch every edge pod once more after binding.
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items()
                   if not k.startswith(("kubectl.kubernetes.io/", "fusionvc.io/"))}
    annotations.update(markers.marker_annotations(pod))
    annotations[markers.VIRTUAL_NODE] = virtual_node
    owner = owner_uid(pod)
    if owner:
        annotations[markers.OWNER_UID] = owner
    labels = {**(meta.get("labels") or {}), **markers.marker_labels(tenant)}
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": meta["name"], "namespace": edge_namespace,
                         "labels": labels, "annotations": annotations},
            "spec": spec}


def owner_uid(pod: Obj) -> str | None:
    for ref in pod["metadata"].get("ownerReferences") or []:
        if ref.get("controller"):
            uid = ref.get("uid")
            return uid if isinstance(uid, str) else None
    return None


def translate_pod_status_up(edge_pod: Obj) -> Obj:
    """The status the tenant pod should show for this edge pod."""
    status = edge_pod.get("status") or {}
    return {k: copy.deepcopy(status[k]) for k in STATUS_FIELDS if k in status}


def status_patch(tenant_status: Obj, desired: Obj) -> Obj | None:
    """The fields of the tenant status to write, or None when it is already right.

    A mirrored field the edge no longer reports is cleared, once the edge status says
    anything at all (an empty edge status is a pod not yet seen, not a reset)."""
    changed: Obj = {k: v for k, v in desired.items() if tenant_status.get(k) != v}
    if desired:
        changed.update({k: None for k in STATUS_FIELDS
                        if k in tenant_status and k not in desired and k != "conditions"})
    return changed or None


def metadata_patch(edge_pod: Obj, desired: Obj) -> Obj | None:
    """Labels/annotations that drifted on the edge pod (the mutable part of a pod)."""
    patch: Obj = {}
    for field in ("labels", "annotations"):
        have = edge_pod["metadata"].get(field) or {}
        want = desired["metadata"].get(field) or {}
        if have != want:
            diff: dict[str, str | None] = {k: v for k, v in want.items() if have.get(k) != v}
            diff.update({k: None for k in have if k not in want})
            patch[field] = diff
    return {"metadata": patch} if patch else None


def image_patch(edge_pod: Obj, desired: Obj) -> Obj | None:
    """Container images are the one spec field a pod may change in place."""
    have = {c["name"]: c.get("image") for c in edge_pod["spec"].get("containers", [])}
    want = [{"name": c["name"], "image": c.get("image")} for c in desired["spec"]["containers"]
            if have.get(c["name"]) != c.get("image")]
    return {"spec": {"containers": want}} if want else None
