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

from ..framework import MAX_NODE_SCORE, CycleState, ScorePlugin
from ..nodeinfo import NodeInfo
from ..podinfo import PodInfo
from ..resources import GPU
from ..strategy import ResourceStrategy

GPU_WEIGHT = 2


def _cpu_memory_in_use(
    nodes: Sequence[NodeInfo], cpu: int, memory: int, free: bool, scale: float
) -> list[float]:
    """Per node, scale x the fraction of cpu plus that of memory in use once the pod is
    placed (0..2 before scaling), or left free (2 minus it) when `free`.

    A full resource, or one the node lacks (capacity 0), counts as 1.0. Hot loop: inlined.
    """
    in_use: list[float] = []
    append = in_use.append
    for node in nodes:
        cpu_capacity, memory_capacity = node.cpu_capacity, node.memory_capacity
        cpu_used = node.nonzero_cpu + cpu
        memory_used = node.nonzero_memory + memory
        used = (cpu_used / cpu_capacity if cpu_used < cpu_capacity else 1.0) + (
            memory_used / memory_capacity if memory_used < memory_capacity else 1.0
        )
        append(scale * (2 - used) if free else scale * used)
    return in_use


def _gpus_in_use(nodes: Sequence[NodeInfo], gpus: int) -> list[float]:
    """Per node, the fraction of GPUs in use once the pod is placed (0..1)."""
    fractions: list[float] = []
    for node in nodes:
        capacity = node.facts.gpu_capacity
        used = capacity - node.free.get(GPU, 0) + gpus
        fractions.append(used / capacity if used < capacity else 1.0)
    return fractions


class ResourceAllocationScore(ScorePlugin):
    name = "resources"
    order = 220
    weight = 2

    def score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> list[int]:
        # least-allocated scores what is free, bin-packing what is used
        free = state.policy.resource_strategy is not ResourceStrategy.BIN_PACKING
        cpu, memory = pod.resources.nonzero_cpu, pod.resources.nonzero_memory
        if not pod.gpus:
            return list(map(int, _cpu_memory_in_use(nodes, cpu, memory, free, MAX_NODE_SCORE / 2)))
        scale = MAX_NODE_SCORE / (2 + GPU_WEIGHT)
        in_use = _cpu_memory_in_use(nodes, cpu, memory, free, 1.0)
        gpus = _gpus_in_use(nodes, pod.gpus)
        return [int(scale * (used + GPU_WEIGHT * g)) for used, g in zip(in_use, gpus, strict=True)]

    def normalize_score(self, state: CycleState, pod: PodInfo, scores: list[int]) -> None:
        """Already 0..100: absolute fullness must not be rescaled away."""
