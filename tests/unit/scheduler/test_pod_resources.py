"""Pod requests as kube-scheduler computes them."""

from typing import Any

from scheduler.resources import DEFAULT_MEMORY_REQUEST, DEFAULT_MILLI_CPU_REQUEST, pod_resources


def container(cpu: str | None = None, memory: str | None = None, **extra: Any) -> dict[str, Any]:
    requests = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v is not None}
    return {"name": "c", "resources": {"requests": requests}, **extra}


def test_sums_regular_containers_and_counts_one_pod() -> None:
    resources = pod_resources(
        {"spec": {"containers": [container("100m", "1Gi"), container("1", "512Mi")]}}
    )
    assert resources.requests == {"cpu": 1100, "memory": 1536 * 2**20, "pods": 1}


def test_init_containers_take_the_max_of_each_step() -> None:
    spec = {
        "containers": [container("500m", "1Gi")],
        "initContainers": [container("2", "256Mi"), container("100m", "2Gi")],
    }
    assert pod_resources({"spec": spec}).requests == {"cpu": 2000, "memory": 2 * 2**30, "pods": 1}


def test_sidecar_init_containers_count_like_regular_ones() -> None:
    spec = {
        "containers": [container("1")],
        "initContainers": [
            container("500m", restartPolicy="Always"),  # sidecar: runs alongside
            container("1200m"),  # runs next to the sidecar: 1.7 at that step
        ],
    }
    assert pod_resources({"spec": spec}).requests["cpu"] == 1700
    spec["initContainers"][1] = container("100m")
    assert pod_resources({"spec": spec}).requests["cpu"] == 1500


def test_overhead_and_extended_resources_are_added() -> None:
    main = container("1")
    main["resources"]["requests"]["nvidia.com/gpu"] = "2"
    spec = {"containers": [main], "overhead": {"cpu": "250m", "memory": "64Mi"}}
    requests = pod_resources({"spec": spec}).requests
    assert requests == {"cpu": 1250, "memory": 64 * 2**20, "nvidia.com/gpu": 2, "pods": 1}


def test_limits_stand_in_for_missing_requests() -> None:
    spec = {
        "containers": [
            {
                "name": "c",
                "resources": {"limits": {"cpu": "2", "memory": "1Gi"}, "requests": {"cpu": "1"}},
            }
        ]
    }
    assert pod_resources({"spec": spec}).requests == {"cpu": 1000, "memory": 2**30, "pods": 1}


def test_pod_level_resources_replace_container_sums() -> None:
    spec = {"containers": [container("1", "1Gi")], "resources": {"requests": {"cpu": "3"}}}
    requests = pod_resources({"spec": spec}).requests
    assert requests["cpu"] == 3000
    assert requests["memory"] == 2**30


def test_nonzero_defaults_only_for_scoring() -> None:
    resources = pod_resources({"spec": {"containers": [container(), container("1")]}})
    assert resources.requests == {"cpu": 1000, "pods": 1}
    assert resources.nonzero_cpu == DEFAULT_MILLI_CPU_REQUEST + 1000
    assert resources.nonzero_memory == 2 * DEFAULT_MEMORY_REQUEST
