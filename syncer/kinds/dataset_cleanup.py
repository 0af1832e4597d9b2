"""Cleanup Jobs: the host folder of a dataset copy that went is removed from its node.

Every download Job fusionvc retires (the source changed, the EdgeDataset or its
Tenant was deleted) leaves ``/var/lib/fusionvc/datasets/<edge ns>/<name>/<sha16>``
on its node. ``retire`` replaces it by a cleanup Job, pinned to the same node in
``fusionvc-datasets``, that runs ``python -m syncer.datasetfetch.remove`` on that
folder (the tenant namespace's folder mounted, nothing wider):

1. the cleanup Job is created **suspended** (it is the durable record of the
   folder), then the download Job is deleted in the foreground (it stays until its
   pod is gone: no downloader writes while the folder is removed);
2. ``release`` resumes a suspended cleanup Job once its download Job is gone from
   the edge cache (the deletion event wakes the EdgeDataset's key; this works for
   a deleted Tenant too: it reads only the edge caches);
3. ``reap`` deletes a cleanup Job that succeeded; one that failed stays (its pod's
   message says why) until ``ttlSecondsAfterFinished``.

The folder is taken only from the download Job's own hostPath and checked part by
part (``copy_folder``: an edge namespace label, a dataset name, 16 hex digits under
the dataset root); a Job that does not match is deleted without a cleanup, and
the remover checks the parts again. Cleanup Jobs carry the EdgeDataset's label
(so its index and events find them) and ``edge.fusionvc.io/dataset-cleanup``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import structlog

from syncer.core import markers
from syncer.fleet.conn import EdgeConn
from syncer.kinds.dataset_translate import DATASET_LABEL, HOST_ROOT, job_resources
from syncer.kinds.edge_targets import job_state
from syncer.kube import Obj
from syncer.kube.apis import JOBS
from syncer.kube.client import KubeError
from syncer.ops.settings import DatasetSettings
from syncer.warm_nodes import DATASET_NAMESPACE

log = structlog.get_logger(__name__)
CLEANUP_LABEL = "edge.fusionvc.io/dataset-cleanup"
RETIRED_UID = "edge.fusionvc.io/retired-job-uid"  # on a cleanup Job: the download Job it ends
CLEANUP_ROOT = "/datasets"
CLEANUP_TTL_S = 86400  # a failed cleanup Job stays a day for the operator to read
CLEANUP_DEADLINE_S = 600
_LABEL = r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?"
_FOLDER = re.compile(rf"^{re.escape(HOST_ROOT)}/(?P<ns>{_LABEL})/"
                     r"(?P<name>[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?)/(?P<sha>[0-9a-f]{16})$")
_NODE = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")


@dataclass(frozen=True)
class CopyFolder:
    node: str
    edge_namespace: str
    name: str
    sha16: str


def is_cleanup(job: Obj) -> bool:
    return CLEANUP_LABEL in (job["metadata"].get("labels") or {})


def split_cleanups(jobs: Iterable[tuple[EdgeConn, Obj]]
                   ) -> tuple[list[tuple[EdgeConn, Obj]], list[tuple[EdgeConn, Obj]]]:
    """(download Jobs, cleanup Jobs)."""
    found = list(jobs)
    return ([(e, j) for e, j in found if not is_cleanup(j)],
            [(e, j) for e, j in found if is_cleanup(j)])


def copy_folder(job: Obj) -> CopyFolder | None:
    """The node and folder of a download Job's copy, when every part is what fusionvc writes."""
    spec = ((job.get("spec") or {}).get("template") or {}).get("spec") or {}
    node = str(spec.get("nodeName") or "")
    paths = [str(v["hostPath"].get("path") or "") for v in spec.get("volumes") or []
             if v.get("name") == "dataset" and isinstance(v.get("hostPath"), dict)]
    match = _FOLDER.match(paths[0]) if len(paths) == 1 else None
    if match is None or not _NODE.match(node):
        return None
    return CopyFolder(node, match["ns"], match["name"], match["sha"])


def cleanup_name(download_job: str) -> str:
    """The cleanup Job of a download Job ``eds-...``: ``edc-...`` (same length, unique)."""
    return f"edc-{download_job.removeprefix('eds-')}"


def translate_cleanup_job(download: Obj, folder: CopyFolder, settings: DatasetSettings) -> Obj:
    meta = download["metadata"]
    labels = {k: v for k, v in (meta.get("labels") or {}).items()
              if k in (markers.MANAGED_BY, markers.TENANT, DATASET_LABEL)}
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items()
                   if k.startswith("fusionvc.io/")}
    command = ["python", "-m", "syncer.datasetfetch.remove", "--root", CLEANUP_ROOT,
               "--copy", f"{folder.name}/{folder.sha16}",
               "--termination-log", "/dev/termination-log"]
    container = {"name": "remove", "image": settings.image, "command": command,
                 "resources": job_resources(settings),
                 "volumeMounts": [{"name": "datasets", "mountPath": CLEANUP_ROOT}],
                 "securityContext": {"allowPrivilegeEscalation": False,
                                     "capabilities": {"drop": ["ALL"]}}}
    pod_spec = {"nodeName": folder.node, "restartPolicy": "Never",
                "automountServiceAccountToken": False, "enableServiceLinks": False,
                "tolerations": [{"operator": "Exists"}], "containers": [container],
                "volumes": [{"name": "datasets", "hostPath": {
                    "path": f"{HOST_ROOT}/{folder.edge_namespace}",
                    "type": "DirectoryOrCreate"}}]}
    return {"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": cleanup_name(meta["name"]), "namespace": DATASET_NAMESPACE,
                         "labels": {**labels, CLEANUP_LABEL: "true"},
                         "annotations": {**annotations, markers.EDGE_NODE: folder.node,
                                         RETIRED_UID: str(meta.get("uid") or "")}},
            "spec": {"suspend": True, "completions": 1, "parallelism": 1, "backoffLimit": 3,
                     "activeDeadlineSeconds": CLEANUP_DEADLINE_S,
                     "ttlSecondsAfterFinished": CLEANUP_TTL_S,
                     "template": {"metadata": {"labels": {CLEANUP_LABEL: "true"}},
                                  "spec": pod_spec}}}


async def retire(edge: EdgeConn, download: Obj, settings: DatasetSettings) -> None:
    """A suspended cleanup Job for the download Job's folder, then the download Job deleted
    in the foreground."""
    meta = download["metadata"]
    if meta.get("deletionTimestamp"):
        return
    if meta.get("namespace") == DATASET_NAMESPACE:  # an OCI pull Job, elsewhere, wrote none
        await _start_cleanup(edge, download, settings)
    await edge.client.delete(JOBS, meta["name"], meta["namespace"], uid=meta["uid"],
                             propagation="Foreground")


async def _start_cleanup(edge: EdgeConn, download: Obj, settings: DatasetSettings) -> None:
    """The suspended cleanup Job of a download Job's folder."""
    folder = copy_folder(download)
    if folder is None:
        log.warning("dataset Job without a folder fusionvc writes: deleted, not cleaned",
                    edge=edge.name, job=download["metadata"]["name"])
        return
    try:
        await edge.client.create(JOBS, translate_cleanup_job(download, folder, settings),
                                 namespace=DATASET_NAMESPACE)
    except KubeError as err:
        if not err.conflict:
            raise


def download_name(cleanup: str) -> str:
    return f"eds-{cleanup.removeprefix('edc-')}"


def cleaning(cleanups: Iterable[tuple[EdgeConn, Obj]]) -> set[tuple[str, str]]:
    """(cluster, download Job name) of the copies whose folder a cleanup Job (waiting or
    running) is to remove: the same copy is not downloaded again until it is done."""
    return {(edge.name, download_name(job["metadata"]["name"])) for edge, job in cleanups
            if job_state(job).state == "active" and not job["metadata"].get("deletionTimestamp")}


async def release(edge: EdgeConn, cleanups: Iterable[Obj]) -> None:
    """Resumes the suspended cleanup Jobs whose download Job is gone from the edge cache; one
    whose copy is wanted again (another download Job of that name than the one it retired:
    the source changed back) is deleted instead, its folder being in use."""
    for job in cleanups:
        meta = job["metadata"]
        if not (job.get("spec") or {}).get("suspend") or meta.get("deletionTimestamp"):
            continue
        download = edge.get(JOBS, DATASET_NAMESPACE, download_name(meta["name"]))
        if download is None:
            await edge.client.patch(JOBS, meta["name"], {"spec": {"suspend": False}},
                                    namespace=DATASET_NAMESPACE)
        elif download["metadata"].get("uid") != (meta.get("annotations") or {}).get(
                RETIRED_UID):
            await edge.client.delete(JOBS, meta["name"], DATASET_NAMESPACE, uid=meta.get("uid"))


async def reap(edge: EdgeConn, cleanups: Iterable[Obj]) -> None:
    """Deletes the cleanup Jobs that succeeded (a failed one stays until its TTL)."""
    for job in cleanups:
        meta = job["metadata"]
        if meta.get("deletionTimestamp"):
            continue
        state = job_state(job)
        if state.state == "succeeded":
            await edge.client.delete(JOBS, meta["name"], DATASET_NAMESPACE, uid=meta["uid"])
        elif state.state == "failed":
            log.warning("dataset folder cleanup failed", edge=edge.name, job=meta["name"],
                        reason=state.reason, message=state.message)


async def settle(pairs: Iterable[tuple[EdgeConn, Obj]]) -> None:
    """``release`` and ``reap`` for (edge, cleanup Job) pairs."""
    for edge, job in pairs:
        await release(edge, (job,))
        await reap(edge, (job,))
