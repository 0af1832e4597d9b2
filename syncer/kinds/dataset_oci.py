"""Pure parts of EdgeDatasets whose source is an OCI artifact (``spec.source.oci.reference``).

Kubernetes image volumes (the ``image`` volume source: ``reference`` and
``pullPolicy``, GA in 1.36) mount an OCI artifact read-only, pulled by the
node's kubelet like an image. So:

- **distribution** to a node is a Job pinned to it whose pod mounts the artifact
  as an image volume (that is the pull) and runs a no-op in the downloader image
  (``translate_oci_job``). It runs in the tenant namespace's edge namespace, like
  an ImagePrewarm's pull: the tenant's quota and Pod Security level apply (image
  volumes are allowed at ``restricted``) and the registry credentials of
  ``Tenant.spec.registries`` reach it exactly as they reach an image pull (the
  pull Secret in that edge namespace; ``fleet/registries.pod_images`` counts
  image volume references). Nothing is written to a host folder, so no PV or
  claim is made for an OCI copy.
- **state**: the Job's own conditions, and, while it is active, its pods' pull
  errors (``ErrImagePull``, ``ImagePullBackOff``, ``InvalidImageName``...): an
  unpullable reference fails the node at once with reason ``ImagePullFailed``
  instead of waiting for the deadline (``oci_job_state``).
- **mount**: the tenant pod's edge copy mounts the artifact as a read-only image
  volume (``pullPolicy: IfNotPresent``: the copy on the node) at the dataset's
  path (``OciMount``, applied by ``dataset_volumes.mount_datasets``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from scheduler.datasets import dataset_image
from syncer.core import markers
from syncer.core.names import fit
from syncer.fleet.registries import RegistryAuths, pull_secret_names
from syncer.kinds.dataset_translate import (
    DATASET_LABEL,
    FETCHER_IMAGE,
    MOUNT,
    SOURCE_ANNOTATION,
    DatasetSpec,
    job_name,
)
from syncer.kinds.edge_targets import NodeState, Target, job_state
from syncer.kinds.prewarm_translate import PrewarmSpec, image_volume, work_pod_spec
from syncer.kube import Obj
from syncer.warm_nodes import PROVIDES, provides

# On an OCI work pod: "<tenant>/<namespace>/<name>" of its EdgeDataset (pods carry no markers:
# they are no copies of tenant pods), so a pull error wakes the EdgeDataset.
WORK_KEY_ANNOTATION = "edge.fusionvc.io/edgedataset-key"
PULL_FAILURES = frozenset({"ErrImagePull", "ImagePullBackOff", "InvalidImageName",
                           "ErrImageNeverPull", "RegistryUnavailable"})
JOB_NAME_LABEL = "batch.kubernetes.io/job-name"


@dataclass(frozen=True)
class OciMount:
    """How a tenant pod's edge copy mounts an OCI dataset: its reference, and the pull Secrets
    its registry needs (fusionvc's, in the pod's edge namespace)."""

    reference: str
    pull_secrets: tuple[str, ...] = ()


DatasetMount = str | OciMount  # a claim name (URL datasets) or an image volume (OCI)


def oci_mount(reference: str, auths: RegistryAuths) -> OciMount:
    """The mount of an artifact, with fusionvc's pull Secret when its registry is one of the
    tenant's (the work pod put that Secret in the same edge namespace: ``dataset_oci_work``)."""
    volume_only = {"spec": {"volumes": [image_volume("dataset", reference)]}}
    return OciMount(reference, pull_secret_names(auths, volume_only))


def work_pod_index(pod: Obj) -> list[str]:
    """Index of OCI work pods by their EdgeDataset's key (none for any other pod)."""
    meta = pod.get("metadata") or {}
    if markers.is_managed(pod) or DATASET_LABEL not in (meta.get("labels") or {}):
        return []  # a tenant pod's copy never wakes an EdgeDataset
    key = (meta.get("annotations") or {}).get(WORK_KEY_ANNOTATION)
    return [key] if isinstance(key, str) and key.count("/") >= 2 else []


def translate_oci_job(dataset: Obj, spec: DatasetSpec, target: Target, *, tenant: str,
                      edge_namespace: str, pull_secrets: tuple[str, ...] = (),
                      image: str = FETCHER_IMAGE) -> Obj:
    """The Job that pulls ``spec.oci`` onto ``target``'s node (in the tenant's edge namespace)."""
    assert spec.oci is not None
    meta = dataset["metadata"]
    name, namespace = meta["name"], meta["namespace"]
    pod_spec = work_pod_spec(PrewarmSpec(images=(image,), selector=None, clusters=None,
                                         regions=None, deployment=None),
                             target.node, pull_secrets)
    pod_spec["volumes"] = [image_volume("dataset", spec.oci)]
    pod_spec["containers"][0]["volumeMounts"] = [{"name": "dataset", "mountPath": MOUNT,
                                                  "readOnly": True}]
    label = {DATASET_LABEL: fit(name, 63)}
    provided = provides({dataset_image(tenant, namespace, name): spec.size})
    return {"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": job_name(tenant, namespace, name, spec.sha256, target),
                         "namespace": edge_namespace,
                         "labels": {**markers.marker_labels(tenant), **label},
                         "annotations": {**markers.marker_annotations(dataset),
                                         markers.EDGE_NODE: target.node,
                                         SOURCE_ANNOTATION: spec.sha256}},
            "spec": {"completions": 1, "parallelism": 1, "backoffLimit": spec.backoff_limit,
                     "activeDeadlineSeconds": spec.timeout_s,
                     "template": {"metadata": {"labels": label, "annotations": {
                         PROVIDES: provided,
                         WORK_KEY_ANNOTATION: f"{tenant}/{namespace}/{name}"}},
                                  "spec": pod_spec}}}


def pull_failure(pods: Iterable[Obj]) -> tuple[str, str] | None:
    """(kubelet reason, message) of a pod that cannot pull its image or image volume."""
    for pod in pods:
        status = pod.get("status") or {}
        for group in ("initContainerStatuses", "containerStatuses"):
            for container in status.get(group) or []:
                waiting = (container.get("state") or {}).get("waiting") or {}
                if waiting.get("reason") in PULL_FAILURES:
                    return str(waiting["reason"]), str(waiting.get("message") or "")
    return None


def oci_job_state(job: Obj, pods: Iterable[Obj]) -> NodeState:
    """A pull Job's state: its conditions, or a pull error of one of its pods."""
    state = job_state(job)
    if state.state == "failed" and state.reason == "BackoffLimitExceeded":
        return NodeState("failed", "ImagePullFailed", state.message)
    if state.state != "active":
        return state
    failure = pull_failure(pods)
    if failure is None:
        return state
    reason, message = failure
    return NodeState("failed", "ImagePullFailed",
                     f"{reason}: {message}" if message else f"{reason}: the artifact "
                     "could not be pulled")


def job_pods(job: Obj, pods: Iterable[Obj]) -> list[Obj]:
    """Those of ``pods`` that the Job made (its name label, its namespace)."""
    meta = job["metadata"]
    return [p for p in pods if p["metadata"].get("namespace") == meta["namespace"]
            and (p["metadata"].get("labels") or {}).get(JOB_NAME_LABEL) == meta["name"]]
