"""Resource names and the resource requests of a pod, computed as kube-scheduler does.

Owns the rules for what a pod takes from a node: container requests (falling
back to limits, as apiserver defaulting does), init containers (the maximum of
each init step against the sum of regular containers, with sidecars, i.e.
init containers with restartPolicy Always, counted like regular containers),
pod-level resources and pod overhead. The same numbers are used to schedule a
tenant pod and to account edge pods on their nodes, so both sides agree.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from .quantity import QuantityError, milli_value, value

CPU = "cpu"
MEMORY = "memory"
PODS = "pods"
EPHEMERAL_STORAGE = "ephemeral-storage"
GPU = "nvidia.com/gpu"

# kube-scheduler's defaults for containers without requests, used for scoring
# only, so that request-less pods do not all look free (pkg/scheduler/util).
DEFAULT_MILLI_CPU_REQUEST = 100
DEFAULT_MEMORY_REQUEST = 200 * 1024 * 1024

# Resources a pod may set at pod level (PodLevelResources feature).
_POD_LEVEL_RESOURCES = (CPU, MEMORY)

ResourceList = dict[str, int]

log = logging.getLogger(__name__)


@lru_cache(maxsize=8192)
def resource_amount(name: str, quantity: str | int | float) -> int:
    """Integer amount of one resource: milli-cores for cpu, base units otherwise."""
    return milli_value(quantity) if name == CPU else value(quantity)


def parse_resource_list(raw: Mapping[str, Any] | None) -> ResourceList:
    """A Kubernetes ResourceList (name -> quantity string) as integer amounts."""
    if not raw:
        return {}
    return {name: resource_amount(name, quantity) for name, quantity in raw.items()}


def parse_resource_list_lenient(raw: Mapping[str, Any] | None, what: str) -> ResourceList:
    """Like parse_resource_list, but a malformed quantity counts as 0 (and is logged).

    For objects an apiserver already validated: one odd value must not stop the
    whole snapshot from being fed.
    """
    result: ResourceList = {}
    for name, quantity in (raw or {}).items():
        try:
            result[name] = resource_amount(name, quantity)
        except QuantityError:
            log.warning("ignoring malformed quantity %r of %s in %s", quantity, name, what)
    return result


@dataclass(frozen=True, slots=True)
class PodResources:
    """What a pod takes from a node.

    requests: every requested resource (cpu in milli-cores), plus pods: 1.
    nonzero_cpu / nonzero_memory: the same with kube-scheduler's defaults for
    containers that request nothing; the scoring plugins use these.
    """

    requests: Mapping[str, int]
    nonzero_cpu: int
    nonzero_memory: int


def _container_requests(container: Mapping[str, Any]) -> ResourceList:
    resources = container.get("resources") or {}
    limits = parse_resource_list(resources.get("limits"))
    limits.update(parse_resource_list(resources.get("requests")))
    return limits


def _nonzero_container_requests(container: Mapping[str, Any]) -> ResourceList:
    requests = _container_requests(container)
    requests.setdefault(CPU, DEFAULT_MILLI_CPU_REQUEST)
    requests.setdefault(MEMORY, DEFAULT_MEMORY_REQUEST)
    return requests


def _add(into: ResourceList, other: Mapping[str, int]) -> None:
    for name, amount in other.items():
        into[name] = into.get(name, 0) + amount


def _max(into: ResourceList, other: Mapping[str, int]) -> None:
    for name, amount in other.items():
        if amount > into.get(name, 0):
            into[name] = amount


def _aggregate(
    spec: Mapping[str, Any], per_container: Callable[[Mapping[str, Any]], ResourceList]
) -> ResourceList:
    """kube's resourcehelper.PodRequests, for one way of reading a container."""
    total: ResourceList = {}
    for container in spec.get("containers") or ():
        _add(total, per_container(container))
    sidecars: ResourceList = {}
    init_peak: ResourceList = {}
    for container in spec.get("initContainers") or ():
        step = per_container(container)
        if container.get("restartPolicy") == "Always":
            # A sidecar keeps running next to the regular containers.
            _add(total, step)
            _add(sidecars, step)
            step = dict(sidecars)
        else:
            _add(step, sidecars)
        _max(init_peak, step)
    _max(total, init_peak)
    pod_level = parse_resource_list((spec.get("resources") or {}).get("requests"))
    for name in _POD_LEVEL_RESOURCES:
        if name in pod_level:
            total[name] = pod_level[name]
    _add(total, parse_resource_list(spec.get("overhead")))
    return total


def pod_resources(pod: Mapping[str, Any]) -> PodResources:
    """The resources a pod takes; raises QuantityError on a malformed quantity."""
    spec = pod.get("spec") or {}
    requests = {
        name: amount for name, amount in _aggregate(spec, _container_requests).items() if amount > 0
    }
    requests[PODS] = 1
    nonzero = _aggregate(spec, _nonzero_container_requests)
    return PodResources(requests, nonzero.get(CPU, 0), nonzero.get(MEMORY, 0))
