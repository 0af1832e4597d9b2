"""Pure parts of mounting an EdgeDataset into the edge copies of the tenant's pods.

Every ready copy (dataset, edge node) gets, in that edge cluster, a
PersistentVolume of fusionvc's own class ``fusionvc-dataset``: a ``local``
volume of the copy's host folder (``dataset_translate.host_path``), read-only,
pinned to the node by ``nodeAffinity``, pre-bound (``claimRef``) to a claim of
the same copy in the tenant namespace's edge namespace (``volumeName``), both
``ReadOnlyMany``. Their names hash the tenant, namespace, dataset, source and
node (``dataset_translate.copy_name``): a changed source is a new pair.

The edge pod names only that claim (``mount_datasets``): a ``persistentVolumeClaim``
volume is allowed at every Pod Security level, so the edge namespace keeps the
tenant's level, and neither the tenant nor its edge pod ever carries a hostPath.
"""

from __future__ import annotations

from collections.abc import Mapping

from syncer.bound_claims import STORAGE_CLASS as STORAGE_CLASS
from syncer.core import markers
from syncer.core.dataset_mounts import MOUNTED_GROUPS
from syncer.core.names import fit, short_hash
from syncer.kinds.dataset_oci import DatasetMount, OciMount
from syncer.kinds.dataset_translate import (
    DATASET_LABEL,
    SOURCE_ANNOTATION,
    DatasetSpec,
    copy_name,
    host_path,
)
from syncer.kinds.edge_targets import Target
from syncer.kinds.prewarm_translate import image_volume
from syncer.kube import Obj

HOSTNAME_LABEL = "kubernetes.io/hostname"
ACCESS_MODES = ["ReadOnlyMany"]


def claim_name(tenant: str, namespace: str, name: str, sha256: str, target: Target) -> str:
    """The edge claim of one copy (in the tenant namespace's edge namespace)."""
    return copy_name("ds", tenant, namespace, name, sha256, target)


def volume_name(tenant: str, namespace: str, name: str, sha256: str, target: Target) -> str:
    """The edge PersistentVolume of one copy (cluster-scoped)."""
    return copy_name("fusionvc-ds", tenant, namespace, name, sha256, target)


def pod_volume_name(dataset: str) -> str:
    """The name of a dataset's volume in the edge pod (a DNS label: dots are replaced, and
    then a hash keeps two names apart)."""
    if "." not in dataset:
        return fit(f"fusionvc-ds-{dataset}", 63)
    return f"{fit(f'fusionvc-ds-{dataset}'.replace('.', '-'), 63 - 9)}-{short_hash(dataset, 8)}"


def translate_dataset_volumes(dataset: Obj, spec: DatasetSpec, target: Target, *, tenant: str,
                              edge_namespace: str, hostname: str) -> tuple[Obj, Obj]:
    """(PersistentVolume, PersistentVolumeClaim) of one ready copy; ``hostname`` is the
    node's ``kubernetes.io/hostname`` label."""
    meta = dataset["metadata"]
    name, namespace = meta["name"], meta["namespace"]
    claim = claim_name(tenant, namespace, name, spec.sha256, target)
    volume = volume_name(tenant, namespace, name, spec.sha256, target)
    size = {"storage": str(max(spec.size, 1))}
    marked = {"labels": {**markers.marker_labels(tenant), DATASET_LABEL: fit(name, 63)},
              "annotations": {**markers.marker_annotations(dataset),
                              markers.EDGE_CLUSTER: target.cluster,
                              markers.EDGE_NODE: target.node, SOURCE_ANNOTATION: spec.sha256}}
    pv = {"apiVersion": "v1", "kind": "PersistentVolume",
          "metadata": {"name": volume, **marked},
          "spec": {"capacity": size, "accessModes": ACCESS_MODES, "volumeMode": "Filesystem",
                   "storageClassName": STORAGE_CLASS,
                   "persistentVolumeReclaimPolicy": "Retain",  # the folder is the Jobs' own
                   "local": {"path": host_path(edge_namespace, name, spec.sha256)},
                   "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                       {"key": HOSTNAME_LABEL, "operator": "In", "values": [hostname]}]}]}},
                   "claimRef": {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                                "namespace": edge_namespace, "name": claim}}}
    pvc = {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
           "metadata": {"name": claim, "namespace": edge_namespace, **marked},
           "spec": {"accessModes": ACCESS_MODES, "volumeMode": "Filesystem",
                    "storageClassName": STORAGE_CLASS, "volumeName": volume,
                    "resources": {"requests": size}}}
    return pv, pvc


def _volume(name: str, mount: DatasetMount, spec: Obj) -> Obj:
    if isinstance(mount, OciMount):  # an image volume (dataset_oci), with its pull Secrets
        named = spec.get("imagePullSecrets") or []
        added = [{"name": n} for n in mount.pull_secrets if {"name": n} not in named]
        if added:
            spec["imagePullSecrets"] = [*named, *added]
        return image_volume(name, mount.reference)
    return {"name": name, "persistentVolumeClaim": {"claimName": mount, "readOnly": True}}


def mount_datasets(spec: Obj, paths: Mapping[str, str],
                   claims: Mapping[str, DatasetMount]) -> None:
    """Adds to an edge pod spec (a copy already) a read-only volume per dataset that has a
    claim (or, from an OCI source, an image volume), mounted read-only in every container
    and init container at its path."""
    for name, path in sorted(paths.items()):
        claim = claims.get(name)
        if claim is None:
            continue
        volume = pod_volume_name(name)
        spec["volumes"] = [*(spec.get("volumes") or []), _volume(volume, claim, spec)]
        for group in MOUNTED_GROUPS:
            for container in spec.get(group) or []:
                container["volumeMounts"] = [*(container.get("volumeMounts") or []), {
                    "name": volume, "mountPath": path, "readOnly": True}]
