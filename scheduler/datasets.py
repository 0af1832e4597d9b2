"""The edge datasets a tenant pod needs, as the scheduler compares them with node images.

A pod names datasets of its own namespace in the annotation
``edge.fusionvc.io/datasets`` (comma-separated EdgeDataset names). A dataset
ready on a node is reported among the node's images (the syncer adds it, see
``syncer/warm_nodes.py``) under ``dataset_image``'s name, which carries the
tenant and namespace: a dataset of another tenant never matches.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .images import normalize_image

DATASETS_ANNOTATION = "edge.fusionvc.io/datasets"
DATASET_HOST = "datasets.fusionvc.io"
# Set by the syncer on the pod it gives the scheduler (never the tenant's own value): the
# pod's datasets distributed OnFirstUse, which placement starts rather than waits for.
FIRST_USE_ANNOTATION = "fusionvc.io/datasets-on-first-use"


def dataset_image(tenant: str, namespace: str, name: str) -> str:
    """The name of a tenant's dataset among a node's images (normalised)."""
    return normalize_image(f"{DATASET_HOST}/{tenant}/{namespace}/{name}")


def dataset_names(pod: Mapping[str, Any]) -> tuple[str, ...]:
    raw = ((pod.get("metadata") or {}).get("annotations") or {}).get(DATASETS_ANNOTATION) or ""
    return tuple(dict.fromkeys(n.strip() for n in str(raw).split(",") if n.strip()))


def pod_datasets(pod: Mapping[str, Any], tenant: str) -> tuple[str, ...]:
    """The dataset images the pod needs (empty when it names none)."""
    names = dataset_names(pod)
    if not names:
        return ()
    namespace = str((pod.get("metadata") or {}).get("namespace") or "")
    return tuple(dataset_image(tenant, namespace, n) for n in names)


def pod_required_datasets(pod: Mapping[str, Any], tenant: str) -> tuple[str, ...]:
    """The dataset images that must be ready on the pod's node: all it names but those
    distributed OnFirstUse (syncer/kinds/dataset_first_use.py)."""
    raw = ((pod.get("metadata") or {}).get("annotations") or {}).get(FIRST_USE_ANNOTATION)
    if not raw:
        return pod_datasets(pod, tenant)
    first_use = {n.strip() for n in str(raw).split(",")}
    namespace = str((pod.get("metadata") or {}).get("namespace") or "")
    return tuple(dataset_image(tenant, namespace, n) for n in dataset_names(pod)
                 if n not in first_use)
