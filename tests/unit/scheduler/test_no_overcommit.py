"""Property: scheduling and assuming a stream of pods never puts a node over its allocatable."""

from collections import defaultdict
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scheduler import ClusterSnapshot, Placement, Scheduler, SchedulingPolicy
from scheduler.policy import ResourceStrategy

from .factories import node, pod

Request = tuple[int, int, int]  # milli-cpu, MiB of memory, GPUs

nodes_strategy = st.lists(
    st.tuples(
        st.integers(1, 3),  # cluster
        st.integers(500, 8000),  # milli-cpu
        st.integers(256, 16384),  # MiB
        st.integers(0, 4),  # GPUs
        st.integers(1, 6),  # max pods
    ),
    min_size=1,
    max_size=12,
)
requests_strategy = st.lists(
    st.tuples(st.integers(0, 3000), st.integers(0, 4096), st.integers(0, 2)),
    min_size=1,
    max_size=40,
)


def tenant_pod(index: int, request: Request) -> dict[str, Any]:
    cpu, memory, gpus = request
    extra = {"nvidia.com/gpu": str(gpus)} if gpus else None
    # Split cpu over an init container and a regular one: the larger must be counted.
    the_pod = pod(
        f"p{index}", cpu=f"{cpu}m", memory=f"{memory}Mi", extra=extra, owner=f"rs{index % 3}"
    )
    the_pod["spec"]["initContainers"] = [
        {"name": "init", "resources": {"requests": {"cpu": f"{cpu // 2}m"}}}
    ]
    return the_pod


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    nodes=nodes_strategy,
    requests=requests_strategy,
    binpack=st.booleans(),
    bind_every=st.integers(2, 5),
)
def test_no_node_is_ever_over_its_allocatable(
    nodes: list[tuple[int, int, int, int, int]],
    requests: list[Request],
    binpack: bool,
    bind_every: int,
) -> None:
    snap = ClusterSnapshot()
    capacity: dict[tuple[str, str], tuple[int, int, int, int]] = {}
    for cluster in ("c1", "c2", "c3"):
        snap.set_cluster(cluster, f"r-{cluster}", True, {"users": 10.0})
    for i, (c, cpu, memory, gpus, max_pods) in enumerate(nodes):
        extra = {"nvidia.com/gpu": str(gpus)} if gpus else None
        snap.upsert_node(
            f"c{c}", node(f"n{i}", f"{cpu}m", f"{memory}Mi", str(max_pods), extra=extra)
        )
        capacity[(f"c{c}", f"n{i}")] = (cpu, memory, gpus, max_pods)
    strategy = ResourceStrategy.BIN_PACKING if binpack else ResourceStrategy.LEAST_ALLOCATED
    policy = SchedulingPolicy(user_regions=("users",), resource_strategy=strategy)
    scheduler = Scheduler(snap)
    used: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for index, request in enumerate(requests):
        the_pod = tenant_pod(index, request)
        result = scheduler.schedule(the_pod, policy)
        if not isinstance(result, Placement):
            continue
        edge_pod = {**the_pod, "metadata": {**the_pod["metadata"], "namespace": "edge-ns"}}
        snap.assume(result.cluster, result.node, edge_pod)
        if index % bind_every == 0:  # the informer sees some of them bound
            bound = {**edge_pod, "spec": {**edge_pod["spec"], "nodeName": result.node}}
            snap.upsert_pod(result.cluster, bound)
        key = (result.cluster, result.node)
        for slot, amount in enumerate((*request, 1)):
            used[key][slot] += amount
        assert all(u <= cap for u, cap in zip(used[key], capacity[key], strict=True)), key
    for (cluster, name), totals in used.items():
        info = snap.node(cluster, name)
        assert info is not None
        assert all(amount >= 0 for amount in info.free.values())
        assert info.requested("pods") == totals[3]
