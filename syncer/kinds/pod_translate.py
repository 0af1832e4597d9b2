"""Pure translation of pods between a tenant cluster and an edge cluster.

Down: the edge pod runs in the tenant's edge namespace on the chosen edge node,
with fusionvc's markers, without the tenant's service-account token, owner
references or scheduling constraints (already enforced by the fusion
scheduler and meaningless against edge node labels). In place: the label,
annotation and spec changes a running pod accepts. Status up is ``pod_status.py``;
in-place resize is ``pod_resize.py``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from syncer.core import markers
from syncer.core.dataset_mounts import mount_paths
from syncer.edgedns.pod_dns import EdgeDNS, edge_pod_dns
from syncer.kinds.dataset_oci import DatasetMount
from syncer.kinds.dataset_volumes import mount_datasets
from syncer.kinds.pod_credentials import strip_edge_credentials
from syncer.kinds.pod_projection import PodAPIAccess, project_pod_secret, tenant_field_value
from syncer.kinds.pvcs import ephemeral_as_claims
from syncer.kube import Obj, json_copy

# Fields of the pod spec that make no sense in the edge cluster.
DROPPED_SPEC_FIELDS = ("nodeSelector", "affinity", "topologySpreadConstraints", "schedulerName",
                       "priority", "priorityClassName", "preemptionPolicy", "schedulingGates",
                       "serviceAccount", "deprecatedServiceAccount")
# What Kubernetes lets a client change in a running pod's spec (besides resources, which
# go through the resize subresource): container images, a shorter activeDeadlineSeconds,
# added tolerations.
IMAGE_GROUPS = ("initContainers", "containers")


def _rewrite_env(container: Obj, pod: Obj, virtual_node: str) -> None:
    """Downward-API values the tenant would see differently are written as literals."""
    for env in container.get("env") or []:
        path = ((env.get("valueFrom") or {}).get("fieldRef") or {}).get("fieldPath")
        value = tenant_field_value(pod, path, virtual_node) if path else None
        if value is not None:
            env.pop("valueFrom")
            env["value"] = value


def _edge_annotations(pod: Obj, virtual_node: str) -> Obj:
    """The edge copy's annotations: the tenant's, fusionvc's markers, and what the fusion
    scheduler reads back from the edge pod (owner, inter-pod terms)."""
    meta = pod["metadata"]
    # fusionvc's own annotations on the tenant pod (placement, written by the binding) are
    # not the tenant's: copying them would patch every edge pod once more after binding.
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items()
                   if not k.startswith(("kubectl.kubernetes.io/", "fusionvc.io/"))}
    annotations.update(markers.marker_annotations(pod))
    annotations[markers.VIRTUAL_NODE] = virtual_node
    annotations[markers.TENANT_GENERATION] = str(meta.get("generation", 1))
    owner = owner_uid(pod)
    if owner:
        annotations[markers.OWNER_UID] = owner
    anti = ((pod["spec"].get("affinity") or {}).get("podAntiAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution")
    if anti:
        annotations[markers.POD_ANTI_AFFINITY] = json.dumps(anti, sort_keys=True,
                                                            separators=(",", ":"))
    scoring = scoring_terms(pod["spec"])
    if scoring:
        annotations[markers.POD_AFFINITY_SCORING] = json.dumps(scoring, sort_keys=True,
                                                               separators=(",", ":"))
    return annotations


def translate_pod_down(pod: Obj, *, tenant: str, edge_namespace: str, edge_node: str,
                       virtual_node: str, service_account: str = "default",
                       runtime_class: str | None = None, dns: EdgeDNS | None = None,
                       pull_secrets: tuple[str, ...] = (),
                       pod_api: PodAPIAccess | None = None,
                       dataset_claims: Mapping[str, DatasetMount] | None = None) -> Obj:
    """The edge copy of a tenant pod. ``runtime_class`` is the edge name of the pod's
    RuntimeClass (names.edge_runtime_class), when it names one; ``dns`` the edge DNS its
    tenant's pods use on that edge cluster; ``pull_secrets`` are image pull Secrets
    fusionvc adds (registry credentials), after the tenant's own; ``pod_api`` the pod's own
    Secret and its tenant's apiserver address (pod_projection), without which tokens, the
    CA and the downward API volumes' tenant values are only removed; ``dataset_claims`` the
    edge claims of the pod's datasets on its node (dataset name -> claim), mounted read-only
    where the pod asks (core/dataset_mounts, kinds/dataset_volumes)."""
    meta = pod["metadata"]
    spec = json_copy(pod["spec"])
    for name in DROPPED_SPEC_FIELDS:
        spec.pop(name, None)
    for name in ("dnsPolicy", "dnsConfig"):  # the edge DNS for tenant names (edgedns/pod_dns)
        spec.pop(name, None)
    spec.update(edge_pod_dns(pod["spec"], meta.get("namespace", ""), dns))
    if pod_api is not None:
        project_pod_secret(spec, pod, pod_api)  # the tenant's token, CA and values instead
    ephemeral_as_claims(spec, meta["name"])  # the tenant's claims, copied (kinds/pvcs.py)
    if dataset_claims:
        mount_datasets(spec, mount_paths(pod), dataset_claims)
    strip_edge_credentials(spec)  # no tenant token to the edge, no edge token to the pod
    for group in ("initContainers", "containers", "ephemeralContainers"):
        for container in spec.get(group) or []:
            _rewrite_env(container, pod, virtual_node)
    spec["nodeName"] = edge_node
    if runtime_class and spec.get("runtimeClassName"):
        spec["runtimeClassName"] = runtime_class
    if pull_secrets:
        named = spec.get("imagePullSecrets") or []
        spec["imagePullSecrets"] = [*named, *({"name": n} for n in pull_secrets
                                              if {"name": n} not in named)]
    spec["serviceAccountName"] = service_account
    annotations = _edge_annotations(pod, virtual_node)
    labels = {**(meta.get("labels") or {}), **markers.marker_labels(tenant)}
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": meta["name"], "namespace": edge_namespace,
                         "labels": labels, "annotations": annotations},
            "spec": spec}


def scoring_terms(spec: Obj) -> Obj:
    """The pod's inter-pod terms that weigh in other pods' scores, shaped as spec.affinity
    (empty when it has none): what the fusion scheduler reads back from the edge pod."""
    affinity = spec.get("affinity") or {}
    pods, anti = affinity.get("podAffinity") or {}, affinity.get("podAntiAffinity") or {}
    out: Obj = {}
    kept = {k: pods[k] for k in ("requiredDuringSchedulingIgnoredDuringExecution",
                                 "preferredDuringSchedulingIgnoredDuringExecution") if pods.get(k)}
    if kept:
        out["podAffinity"] = kept
    preferred = anti.get("preferredDuringSchedulingIgnoredDuringExecution")
    if preferred:
        out["podAntiAffinity"] = {"preferredDuringSchedulingIgnoredDuringExecution": preferred}
    return out


def owner_uid(pod: Obj) -> str | None:
    for ref in pod["metadata"].get("ownerReferences") or []:
        if ref.get("controller"):
            uid = ref.get("uid")
            return uid if isinstance(uid, str) else None
    return None


def tenant_generation(edge_pod: Obj) -> int | None:
    """The tenant generation an edge pod's spec was written from (None: unknown)."""
    meta = edge_pod.get("metadata") or {}
    value = (meta.get("annotations") or {}).get(markers.TENANT_GENERATION, "")
    return int(value) if value.isdigit() else None


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


def spec_patch(edge_pod: Obj, desired: Obj) -> Obj | None:
    """The in-place spec changes a running pod accepts, as a strategic merge patch: images
    (merged by container name), activeDeadlineSeconds, the tolerations list."""
    have, want = edge_pod["spec"], desired["spec"]
    patch: Obj = {}
    for group in IMAGE_GROUPS:
        images = {c["name"]: c.get("image") for c in have.get(group) or []}
        changed = [{"name": c["name"], "image": c.get("image")} for c in want.get(group) or []
                   if c["name"] in images and images[c["name"]] != c.get("image")]
        if changed:
            patch[group] = changed
    deadline = want.get("activeDeadlineSeconds")
    if deadline is not None and deadline != have.get("activeDeadlineSeconds"):
        patch["activeDeadlineSeconds"] = deadline
    if (want.get("tolerations") or []) != (have.get("tolerations") or []):
        patch["tolerations"] = want.get("tolerations") or []
    return {"spec": patch} if patch else None


def update_patch(edge_pod: Obj, desired: Obj) -> Obj | None:
    """Metadata drift and in-place spec changes in one patch, so the tenant generation
    marker moves exactly when the spec it stands for was accepted."""
    meta, spec = metadata_patch(edge_pod, desired), spec_patch(edge_pod, desired)
    if meta is None and spec is None:
        return None
    return {**(meta or {}), **(spec or {})}


def edge_delete_shortens(edge_pod: Obj, tenant_grace: int | None) -> bool:
    """Whether deleting the edge copy with the tenant pod's grace (None: the pod's own)
    changes anything: the copy is not marked yet, or is marked with a longer grace. A
    second delete with a shorter grace (``kubectl delete --now`` after a plain delete)
    cuts the mark, as the tenant's API server did to the tenant pod, and a kubelet kills
    sooner; a longer or default one changes nothing on the copy."""
    meta = edge_pod["metadata"]
    if not meta.get("deletionTimestamp"):
        return True
    marked = meta.get("deletionGracePeriodSeconds")
    return tenant_grace is not None and marked is not None and tenant_grace < marked
