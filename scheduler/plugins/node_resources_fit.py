"""NodeResourcesFit (ShapeFilter, Filter): the pod's requests fit in what the node has left.

Owns the fit check of every requested resource (cpu, memory, pods,
ephemeral-storage, nvidia.com/gpu, any extended resource) against the node's
allocatable minus the requests of the pods counted on it, assumed ones
included. Like kube-scheduler it reports every resource that does not fit.
A shape whose nodes lack a requested resource altogether (a CPU node for a
GPU pod) is rejected at once, with the missing resources as reasons.
"""

from __future__ import annotations

from functools import lru_cache

from ..framework import CycleState, FilterPlugin, ShapeFilterPlugin, Status
from ..nodearrays import BoolArray, Slots
from ..nodeinfo import NodeInfo
from ..podinfo import PodInfo
from ..resources import CPU, MEMORY, PODS
from ..shapes import NodeShape


@lru_cache(maxsize=1024)
def _insufficient(resources: tuple[str, ...]) -> Status:
    return Status.unschedulable(
        *("Too many pods" if name == PODS else f"Insufficient {name}" for name in resources)
    )


class NodeResourcesFit(ShapeFilterPlugin, FilterPlugin):
    name = "nodeResourcesFit"
    order = 80

    def filter_shape(self, state: CycleState, pod: PodInfo, shape: NodeShape) -> Status | None:
        present = shape.resources
        missing = tuple(name for name, _ in pod.requests if name not in present)
        return _insufficient(missing) if missing else None

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        if pod.cpu > node.free_cpu or pod.memory > node.free_memory or node.free_pods < 1:
            return self._reasons(pod, node)
        if pod.extended_requests:
            free = node.free
            for name, amount in pod.extended_requests:
                if amount > free.get(name, 0):
                    return self._reasons(pod, node)
        return None

    def filter_slots(self, state: CycleState, pod: PodInfo, slots: Slots) -> BoolArray:
        """filter() for many nodes at once, from the snapshot's NodeArrays."""
        arrays = state.snapshot.arrays
        fits = arrays.column(CPU)[slots] >= pod.cpu
        fits &= arrays.column(MEMORY)[slots] >= pod.memory
        fits &= arrays.column(PODS)[slots] >= 1
        for name, amount in pod.extended_requests:
            fits &= arrays.column(name)[slots] >= amount
        return fits

    @staticmethod
    def _reasons(pod: PodInfo, node: NodeInfo) -> Status:
        free = node.free
        return _insufficient(
            tuple(name for name, amount in pod.requests if amount > free.get(name, 0))
        )
