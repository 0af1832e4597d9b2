"""ResourceAllocationScore (Score): least-allocated or bin-packing, per the tenant's policy.

Owns the balance between spreading load and packing nodes. For cpu and memory
(with kube-scheduler's non-zero defaults for request-less containers) it
follows policy.resource_strategy: least-allocated scores the free fraction
after placing the pod, bin-packing the used fraction. GPUs are always
bin-packed, with twice the weight of cpu or memory: filling GPU nodes one by
one keeps whole GPU nodes free for pods that need many GPUs.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..framework import MAX_NODE_SCORE, CycleState, ScorePlugin
from ..nodearrays import FloatArray, IntArray, slots_of
from ..nodeinfo import NodeInfo
from ..podinfo import PodInfo
from ..resources import CPU, GPU, MEMORY
from ..strategy import ResourceStrategy

GPU_WEIGHT = 2


def _fraction_in_use(used: IntArray, capacity: IntArray) -> FloatArray:
    """used / capacity, 1.0 where that is full or more, or the node lacks the resource."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(used < capacity, used / capacity, 1.0)


class ResourceAllocationScore(ScorePlugin):
    name = "resources"
    order = 220
    weight = 2

    def score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> list[int]:
        scores: list[int] = self.score_array(state, pod, nodes).tolist()
        return scores

    def normalize_score(self, state: CycleState, pod: PodInfo, scores: list[int]) -> None:
        """Already 0..100: absolute fullness must not be rescaled away."""

    def normalize_array(self, state: CycleState, pod: PodInfo, scores: IntArray) -> IntArray:
        return scores  # as normalize_score()

    def score_array(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> IntArray:
        arrays = state.snapshot.arrays
        slots = slots_of(nodes)
        cpu_used = arrays.nonzero_cpu[slots] + pod.resources.nonzero_cpu
        memory_used = arrays.nonzero_memory[slots] + pod.resources.nonzero_memory
        # cpu's fraction plus memory's (0..2) once the pod is placed; kube's non-zero requests
        used = _fraction_in_use(cpu_used, arrays.allocatable_of(CPU)[slots]) + _fraction_in_use(
            memory_used, arrays.allocatable_of(MEMORY)[slots]
        )
        # least-allocated scores what is free, bin-packing what is used
        if state.policy.resource_strategy is not ResourceStrategy.BIN_PACKING:
            used = 2 - used
        if not pod.gpus:
            return (MAX_NODE_SCORE / 2 * used).astype(np.int64)
        gpu_capacity = arrays.allocatable_of(GPU)[slots]
        gpus = _fraction_in_use(gpu_capacity - arrays.column(GPU)[slots] + pod.gpus, gpu_capacity)
        return (MAX_NODE_SCORE / (2 + GPU_WEIGHT) * (used + GPU_WEIGHT * gpus)).astype(np.int64)
