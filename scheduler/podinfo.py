"""Facts about the pod being scheduled, computed once per scheduling cycle.

Owns PodInfo (requests, tolerations, spread owner, the parsed spec) and the
rule that names the "owner" of a pod for spreading: the annotation
fusionvc.io/owner-uid (edge pods), else the controller ownerReference's uid
(tenant pods), else none.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .resources import CPU, GPU, MEMORY, PODS, PodResources, pod_resources
from .taints import Toleration, parse_tolerations

OWNER_UID_ANNOTATION = "fusionvc.io/owner-uid"
_COMMON_RESOURCES = frozenset({CPU, MEMORY, GPU, PODS})


def owner_of(pod: Mapping[str, Any]) -> str | None:
    """The uid whose replicas should be spread, or None."""
    metadata = pod.get("metadata") or {}
    owner = (metadata.get("annotations") or {}).get(OWNER_UID_ANNOTATION)
    if owner:
        return str(owner)
    for reference in metadata.get("ownerReferences") or ():
        if reference.get("controller") and reference.get("uid"):
            return str(reference["uid"])
    return None


@dataclass(frozen=True, slots=True)
class PodInfo:
    """The tenant pod of this cycle, with what every plugin needs precomputed."""

    pod: Mapping[str, Any]
    spec: Mapping[str, Any]
    labels: Mapping[str, str]
    resources: PodResources
    requests: tuple[tuple[str, int], ...]  # resources.requests as pairs, for fast loops
    tolerations: tuple[Toleration, ...]
    owner: str | None
    cpu: int  # requests in milli-cores, bytes, GPUs (0 when not requested)
    memory: int
    gpus: int
    # requests other than cpu, memory, GPUs and pods, for the rarer resources
    other_requests: tuple[tuple[str, int], ...]
    # requests other than cpu, memory and pods (GPUs included): the fit check's slow part
    extended_requests: tuple[tuple[str, int], ...]

    @classmethod
    def from_pod(cls, pod: Mapping[str, Any]) -> PodInfo:
        """Raises QuantityError when the pod's resources are malformed."""
        spec = pod.get("spec") or {}
        resources = pod_resources(pod)
        return cls(
            pod=pod,
            spec=spec,
            labels=(pod.get("metadata") or {}).get("labels") or {},
            resources=resources,
            requests=tuple(resources.requests.items()),
            tolerations=parse_tolerations(spec.get("tolerations")),
            owner=owner_of(pod),
            cpu=resources.requests.get(CPU, 0),
            memory=resources.requests.get(MEMORY, 0),
            gpus=resources.requests.get(GPU, 0),
            other_requests=tuple(
                (name, amount)
                for name, amount in resources.requests.items()
                if name not in _COMMON_RESOURCES
            ),
            extended_requests=tuple(
                (name, amount)
                for name, amount in resources.requests.items()
                if name not in (CPU, MEMORY, PODS)
            ),
        )
