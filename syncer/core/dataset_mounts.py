"""Where a tenant pod's edge datasets appear in its containers (pure).

A pod names the EdgeDatasets of its namespace it needs in the annotation
``edge.fusionvc.io/datasets`` (``scheduler.datasets``); each is mounted read-only
in every container at ``/datasets/<name>``, or where the annotation
``edge.fusionvc.io/dataset-mounts`` says (``"qwen=/models/qwen,llm=/data/llm"``).
A mount the pod cannot have (a relative path, a ``..`` element, a dataset the pod
does not name, a path a container already mounts something at) is a violation the
tenant sees before the pod is placed (``isolation.check_pod``), not an edge refusal.
"""

from __future__ import annotations

from collections.abc import Iterator

from scheduler.datasets import dataset_names
from syncer.core.pod_security import Violation
from syncer.kube import Obj

MOUNTS_ANNOTATION = "edge.fusionvc.io/dataset-mounts"
DEFAULT_ROOT = "/datasets"
_FIELD = f"metadata.annotations[{MOUNTS_ANNOTATION}]"
MOUNTED_GROUPS = ("initContainers", "containers")  # debug containers mount nothing of it


def _entries(pod: Obj) -> Iterator[tuple[str, str]]:
    raw = ((pod.get("metadata") or {}).get("annotations") or {}).get(MOUNTS_ANNOTATION) or ""
    for entry in str(raw).split(","):
        if entry.strip():
            name, _, path = entry.partition("=")
            yield name.strip(), path.strip()


def _bad_path(path: str) -> str | None:
    if not path.startswith("/"):
        return "is not an absolute path"
    if ".." in path.split("/"):
        return "must not contain a '..' element"
    if path.rstrip("/") == "":
        return "must not be /"
    return None


def mount_paths(pod: Obj) -> dict[str, str]:
    """Dataset name -> mount path, for every dataset the pod names (valid entries only)."""
    chosen = {name: path.rstrip("/") for name, path in _entries(pod) if _bad_path(path) is None}
    return {name: chosen.get(name) or f"{DEFAULT_ROOT}/{name}" for name in dataset_names(pod)}


def mount_violations(pod: Obj) -> list[Violation]:
    """What is wrong with the pod's dataset mounts (empty: nothing)."""
    named, found = set(dataset_names(pod)), []
    for name, path in _entries(pod):
        if name not in named:
            found.append(Violation(_FIELD, f"{name!r} is not one of the pod's datasets "
                                   "(edge.fusionvc.io/datasets)"))
        elif (why := _bad_path(path)) is not None:
            found.append(Violation(_FIELD, f"the mount path of {name!r} ({path!r}) {why}"))
    paths = mount_paths(pod)
    if len(set(paths.values())) < len(paths):
        found.append(Violation(_FIELD, "two datasets are mounted at the same path"))
    spec = pod.get("spec") or {}
    for group in MOUNTED_GROUPS:
        for container in spec.get(group) or []:
            taken = {m.get("mountPath", "").rstrip("/") for m in container.get("volumeMounts")
                     or []}
            for name, path in sorted(paths.items()):
                if path in taken:
                    found.append(Violation(_FIELD, f"container {container.get('name')!r} "
                                           f"already mounts a volume at {path} ({name!r})"))
    return found
