"""WarmNodes: what fusionvc's finished work pods put on edge nodes, as the scheduler sees it.

A pull pod of an ImagePrewarm and a download pod of an EdgeDataset carry the
annotation ``edge.fusionvc.io/provides`` (JSON: image or dataset name -> size
in bytes). Once such a pod has Succeeded on a node, the node holds those images
and datasets: the placer adds them to the node's ``status.images`` before the
scheduler's snapshot reads it, so ImageLocality scores the node as one that
reports them, and a pod that needs a dataset finds it there. The node's own
report is never changed (a new object is built); an entry disappears with its
pod (deleted with its Job, e.g. by the ImagePrewarm's TTL). A dataset counts
under the name ``scheduler.datasets.dataset_image`` gives it, which carries the tenant: another
tenant's pods never match it, and only while that copy's edge claim is Bound
(``bound``: ``syncer/bound_claims.py``), so a pod placed there finds its claim.
"""

from __future__ import annotations

from collections.abc import Container, Mapping
from typing import Any

import orjson

from scheduler.datasets import DATASET_HOST
from scheduler.images import normalize_image
from syncer.core import markers
from syncer.kube import Obj

PROVIDES = "edge.fusionvc.io/provides"
_ADDED = "fusionvc.io/added"  # marks the entries added here (stripped when merging again)
DATASET_PREFIX = f"{DATASET_HOST}/"
DATASET_NAMESPACE = "fusionvc-datasets"  # fusionvc's edge namespace of the download Jobs
DATASET_WORK_LABEL = "edge.fusionvc.io/edgedataset"  # on EdgeDatasets' Jobs and their pods


def provides(entries: Mapping[str, int]) -> str:
    """The annotation value for work that puts these images or datasets on its node."""
    return orjson.dumps({normalize_image(k): int(v) for k, v in entries.items()}).decode()


def _provided(pod: Obj) -> dict[str, int]:
    meta = pod.get("metadata") or {}
    raw = (meta.get("annotations") or {}).get(PROVIDES)
    if not raw or (pod.get("status") or {}).get("phase") != "Succeeded":
        return {}
    if markers.is_managed(pod) or not any(
            ref.get("kind") == "Job" and ref.get("controller")
            for ref in meta.get("ownerReferences") or ()):
        return {}  # a tenant pod's copy (its annotations are the tenant's), or not a Job's
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return {}
    if not isinstance(value, dict):
        return {}
    # No tenant pod runs in fusionvc's dataset namespace; elsewhere (an OCI dataset's pull, in
    # the tenant's edge namespace) only a fusionvc Job's pod carries the EdgeDataset label.
    datasets_allowed = meta.get("namespace") == DATASET_NAMESPACE or \
        DATASET_WORK_LABEL in (meta.get("labels") or {})
    return {str(k): int(v) for k, v in value.items() if isinstance(v, int) and v >= 0
            and (datasets_allowed or not str(k).startswith(DATASET_PREFIX))}


class WarmNodes:
    """Per edge node, the images and datasets its finished work pods provide."""

    def __init__(self) -> None:
        # (cluster, node) -> (pod namespace, pod name) -> provided name -> size
        self._by_node: dict[tuple[str, str], dict[tuple[str, str], dict[str, int]]] = {}

    def pod_event(self, cluster: str, old: Obj | None, new: Obj | None) -> str | None:
        """Records a pod's change; returns its node's name when what the node holds changed."""
        pod = new or old
        assert pod is not None
        node = (pod.get("spec") or {}).get("nodeName")
        if not node:
            return None
        meta = pod["metadata"]
        key = (meta.get("namespace", ""), meta["name"])
        entries = _provided(new) if new is not None else {}
        held = self._by_node.get((cluster, node), {})
        if held.get(key, {}) == entries:
            return None
        if entries:
            self._by_node.setdefault((cluster, node), {})[key] = entries
        else:
            held.pop(key, None)
            if not held:
                self._by_node.pop((cluster, node), None)
        return str(node)

    def forget_node(self, cluster: str, node: str) -> None:
        self._by_node.pop((cluster, node), None)

    def merged(self, cluster: str, node: Mapping[str, Any],
               bound: Container[str] = frozenset()) -> Mapping[str, Any]:
        """The node with what its work pods provide added to ``status.images`` (a new object
        when anything is added or was added before; the node itself otherwise); a dataset
        only when it is in ``bound`` (its claim on the node is Bound), or an OCI pull's."""
        status: Mapping[str, Any] = node.get("status") or {}
        images = status.get("images") or []
        own = [i for i in images if not i.get(_ADDED)]
        held = self._by_node.get((cluster, node["metadata"]["name"]))
        if not held and len(own) == len(images):
            return node
        extra: dict[str, int] = {}
        for (pod_namespace, _), entries in (held or {}).items():
            # A download (in fusionvc-datasets) is mounted through its claim; an OCI pull (in
            # the tenant's edge namespace) as an image volume, with no claim to wait for.
            needs_claim = pod_namespace == DATASET_NAMESPACE
            for name, size in entries.items():
                if needs_claim and name.startswith(DATASET_PREFIX) and name not in bound:
                    continue  # downloaded, but its claim is not Bound (yet)
                extra[name] = max(size, extra.get(name, 0))
        added = [{"names": [name], "sizeBytes": size, _ADDED: True}
                 for name, size in sorted(extra.items())]
        return {**node, "status": {**status, "images": own + added}}
