"""The snapshot: incremental updates, assume/forget/expiry, generation and listeners."""

import pytest

from scheduler import ClusterSnapshot

from .factories import node, pod

GI = 2**30


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def new_snapshot(clock: Clock | None = None) -> ClusterSnapshot:
    snap = ClusterSnapshot(clock=clock or Clock(), assume_ttl=30.0)
    snap.set_cluster("c1", "eu", True, {"users": 10.0})
    snap.upsert_node("c1", node("n1", cpu="4", memory="8Gi"))
    return snap


def free_cpu(snap: ClusterSnapshot, name: str = "n1") -> int:
    info = snap.node("c1", name)
    assert info is not None
    return info.free["cpu"]


def test_pods_count_while_bound_and_not_terminal() -> None:
    snap = new_snapshot()
    snap.upsert_pod("c1", pod("p", cpu="1"))  # not bound yet: not counted
    assert free_cpu(snap) == 4000
    snap.upsert_pod("c1", pod("p", cpu="1", node_name="n1", phase="Running"))
    assert free_cpu(snap) == 3000
    snap.upsert_pod("c1", pod("p", cpu="1", node_name="n1", phase="Running"))  # no double count
    assert free_cpu(snap) == 3000
    deleting = pod("p", cpu="1", node_name="n1", phase="Running")
    deleting["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    snap.upsert_pod("c1", deleting)  # still counts until removed
    assert free_cpu(snap) == 3000
    snap.upsert_pod("c1", pod("p", cpu="1", node_name="n1", phase="Succeeded"))
    assert free_cpu(snap) == 4000
    snap.upsert_pod("c1", pod("q", cpu="2", node_name="n1", phase="Pending"))
    snap.remove_pod("c1", "default", "q")
    assert free_cpu(snap) == 4000
    info = snap.node("c1", "n1")
    assert info is not None and info.requested("pods") == 0


def test_pods_seen_before_their_node_count_when_it_arrives() -> None:
    snap = new_snapshot()
    snap.upsert_pod("c1", pod("early", cpu="1", node_name="n2", phase="Running"))
    snap.upsert_node("c1", node("n2", cpu="2"))
    assert free_cpu(snap, "n2") == 1000


def test_node_updates_keep_the_pods_and_heartbeats_do_not_bump_the_generation() -> None:
    snap = new_snapshot()
    snap.upsert_pod("c1", pod("p", cpu="1", node_name="n1", phase="Running"))
    generation = snap.generation
    heartbeat = node("n1", cpu="4", memory="8Gi")
    heartbeat["status"]["conditions"][0]["lastHeartbeatTime"] = "2026-01-01T00:00:10Z"
    snap.upsert_node("c1", heartbeat)
    assert snap.generation == generation
    snap.upsert_node("c1", node("n1", cpu="8", memory="8Gi"))
    assert snap.generation > generation
    assert free_cpu(snap) == 7000
    assert snap.num_nodes == 1


def test_remove_node_and_cluster() -> None:
    snap = new_snapshot()
    snap.upsert_node("c1", node("n2"))
    assert snap.num_nodes == 2
    snap.remove_node("c1", "n2")
    snap.remove_node("c1", "ghost")
    assert snap.num_nodes == 1 and snap.node("c1", "n2") is None
    snap.upsert_pod("c1", pod("p", node_name="n1", phase="Running", owner_annotation="rs"))
    snap.remove_cluster("c1")
    assert snap.num_nodes == 0 and snap.node_groups() == []
    assert snap.owners.by_cluster == {}


def test_unknown_cluster_is_an_error() -> None:
    with pytest.raises(KeyError, match="set_cluster"):
        ClusterSnapshot().upsert_node("nope", node("n"))


def test_assumed_pods_count_until_seen_bound_then_are_replaced() -> None:
    snap = new_snapshot()
    edge_pod = pod("edge-p", cpu="3", namespace="tenant-x-ns")
    snap.assume("c1", "n1", edge_pod)
    assert free_cpu(snap) == 1000
    assert snap.is_assumed("c1", "tenant-x-ns", "edge-p")
    snap.upsert_pod("c1", pod("edge-p", cpu="3", namespace="tenant-x-ns"))  # created, unbound
    assert free_cpu(snap) == 1000
    snap.upsert_pod(
        "c1", pod("edge-p", cpu="3", namespace="tenant-x-ns", node_name="n1", phase="Pending")
    )
    assert free_cpu(snap) == 1000
    assert not snap.is_assumed("c1", "tenant-x-ns", "edge-p")
    snap.forget("c1", "tenant-x-ns", "edge-p")  # real pods are not forgotten
    assert free_cpu(snap) == 1000


def test_forget_drops_an_assumption_and_bumps_the_generation() -> None:
    snap = new_snapshot()
    generations: list[int] = []
    snap.add_listener(generations.append)
    snap.assume("c1", "n1", pod("edge-p", cpu="3"))
    assert generations == []  # taking room never wakes pending pods
    snap.forget("c1", "default", "edge-p")
    assert free_cpu(snap) == 4000
    assert generations == [snap.generation]


def test_assumptions_expire_after_the_ttl() -> None:
    clock = Clock()
    snap = new_snapshot(clock)
    snap.assume("c1", "n1", pod("old", cpu="1"))
    clock.now += 20
    snap.assume("c1", "n1", pod("young", cpu="1"))
    assert free_cpu(snap) == 2000
    clock.now += 10.5
    assert snap.expire_assumed() == 1
    assert free_cpu(snap) == 3000
    clock.now += 30
    assert snap.expire_assumed() == 1
    assert free_cpu(snap) == 4000


def test_reassuming_a_forgotten_pod_is_not_expired_by_the_old_deadline() -> None:
    clock = Clock()
    snap = new_snapshot(clock)
    snap.assume("c1", "n1", pod("p", cpu="1"))
    snap.forget("c1", "default", "p")
    clock.now += 25
    snap.assume("c1", "n1", pod("p", cpu="1"))
    clock.now += 10  # the first deadline has passed, the second has not
    assert snap.expire_assumed() == 0
    assert free_cpu(snap) == 3000


def test_listeners_hear_every_change_that_may_free_room() -> None:
    snap = new_snapshot()
    heard: list[int] = []
    remove = snap.add_listener(heard.append)
    snap.upsert_pod("c1", pod("p", node_name="n1", phase="Running"))
    assert heard == []
    snap.remove_pod("c1", "default", "p")
    snap.upsert_node("c1", node("n2"))
    snap.set_cluster("c1", "eu", False, {"users": 10.0})
    assert len(heard) == 2  # turning unhealthy frees nothing
    snap.set_cluster("c1", "eu", True, {"users": 10.0})
    snap.set_cluster("c2", "us", True, {})
    assert heard == sorted(heard) and len(heard) == 4 and heard[-1] == snap.generation
    remove()
    snap.upsert_node("c1", node("n3"))
    assert len(heard) == 4


def test_owner_counts_follow_pods_and_assumptions() -> None:
    snap = new_snapshot()
    snap.set_cluster("c2", "us", True, {})
    snap.upsert_node("c2", node("m1"))
    snap.upsert_pod("c1", pod("a", node_name="n1", phase="Running", owner_annotation="rs"))
    snap.upsert_pod("c1", pod("b", node_name="n1", phase="Running", owner="rs"))
    snap.assume("c2", "m1", pod("c", owner_annotation="rs"))
    assert snap.owners.by_cluster["rs"] == {"c1": 2, "c2": 1}
    assert snap.owners.by_region["rs"] == {"eu": 2, "us": 1}
    snap.remove_pod("c1", "default", "a")
    snap.forget("c2", "default", "c")
    assert snap.owners.by_cluster["rs"] == {"c1": 1}
    assert snap.owners.by_region["rs"] == {"eu": 1}


def test_node_facts() -> None:
    snap = new_snapshot()
    raw = node(
        "gpu-1",
        cpu="64",
        memory="512Gi",
        extra={"nvidia.com/gpu": "8"},
        arch=None,
        price="2.40",
        labels={"topology.kubernetes.io/zone": "eu-1a", "nvidia.com/gpu.product": "A100"},
        taints=[
            {"key": "k", "value": "v", "effect": "NoSchedule"},
            {"key": "s", "value": "v", "effect": "PreferNoSchedule"},
        ],
    )
    raw["status"]["nodeInfo"] = {"architecture": "arm64"}
    snap.upsert_node("c1", raw)
    info = snap.node("c1", "gpu-1")
    assert info is not None
    facts = info.facts
    assert (facts.region, facts.zone, facts.arch, facts.gpu_model, facts.price) == (
        "eu",
        "eu-1a",
        "arm64",
        "A100",
        2.40,
    )
    assert facts.allocatable["memory"] == 512 * GI and facts.gpu_capacity == 8
    assert facts.labels["fusionvc.io/edge-cluster"] == "c1"
    assert facts.labels["topology.kubernetes.io/region"] == "eu"
    assert facts.labels["kubernetes.io/arch"] == "arm64"
    assert [t.key for t in facts.hard_taints] == ["k"]
    assert [t.key for t in facts.soft_taints] == ["s"]
    assert snap.known_regions() == {"eu", "users"}


def test_cluster_region_change_moves_its_nodes() -> None:
    snap = new_snapshot()
    snap.set_cluster("c1", "us", True, {"users": 10.0})
    info = snap.node("c1", "n1")
    assert info is not None and info.facts.region == "us"
    assert [g.region for g in snap.node_groups()] == ["us"]


def test_soft_taint_bookkeeping() -> None:
    soft = [{"key": "spot", "value": "yes", "effect": "PreferNoSchedule"}]
    snap = new_snapshot()
    assert not snap.has_soft_taints()
    snap.upsert_node("c1", node("n1", cpu="4", memory="8Gi", taints=soft))
    snap.upsert_node("c1", node("n2", taints=soft))
    assert snap.has_soft_taints()
    snap.upsert_node("c1", node("n1", cpu="4", memory="8Gi"))
    snap.remove_node("c1", "n2")
    assert not snap.has_soft_taints()
    snap.upsert_node("c1", node("n3", taints=soft))
    snap.remove_cluster("c1")
    assert not snap.has_soft_taints()


def test_a_status_update_with_the_same_parts_is_not_computed_again() -> None:
    """A cached pod's new version reuses its unchanged parts (kube/compact.py): when the
    spec, labels, annotations and owner references are the very objects of the counted
    version, the record stands; equal but new objects are read again."""
    calls: list[str] = []

    def tenancy(p: dict) -> None:  # type: ignore[type-arg]
        calls.append(p["metadata"]["name"])

    snap = ClusterSnapshot(clock=Clock(), assume_ttl=30.0, tenancy=tenancy)
    snap.set_cluster("c1", "eu", True, {"users": 10.0})
    snap.upsert_node("c1", node("n1", cpu="4", memory="8Gi"))
    first = pod("p", cpu="1", node_name="n1", phase="Pending", labels={"app": "a"})
    snap.upsert_pod("c1", first)
    running = {**first, "status": {"phase": "Running"}}  # the same spec and metadata parts
    snap.upsert_pod("c1", running)
    assert calls == ["p"] and free_cpu(snap) == 3000
    resized = pod("p", cpu="2", node_name="n1", phase="Running", labels={"app": "a"})
    snap.upsert_pod("c1", resized)  # new objects: computed again, the new request counted
    assert calls == ["p", "p"] and free_cpu(snap) == 2000
    snap.upsert_pod("c1", {**resized, "spec": {**resized["spec"], "nodeName": "n2"}})
    assert free_cpu(snap) == 4000  # moved off n1 (n2 is unknown here)
