"""Table tests of config/sandbox.yaml validation: every error names its field."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from sandbox_lib.processes import SandboxError
from sandbox_lib.seed import edge_node, edge_objects
from sandbox_lib.stages import (
    JOB_POD_COMPLETE_STAGE,
    complete_labelled_job_pods,
    delay_deletes_by_annotation,
    report_container_resources,
    write_whole_node_addresses,
)
from sandbox_lib.topology import TopologyError, load_topology, parse_topology

REPO = Path(__file__).resolve().parents[3]
GOOD: dict[str, Any] = yaml.safe_load((REPO / "config/sandbox.yaml").read_text())


def test_shipped_topology_is_valid_and_matches_design() -> None:
    topo = load_topology(REPO / "config/sandbox.yaml")
    assert [c.name for c in topo.by_role("tenant")] == ["tenant-a", "tenant-b"]
    edges = topo.by_role("edge")
    assert len(edges) == 3 and len({e.region for e in edges}) == 3
    groups = [g for e in edges for g in e.nodes]
    assert any(g.arch == "arm64" for g in groups)
    assert len({g.gpu_model for g in groups if g.gpu}) >= 2
    assert any(g.used_gpus == g.gpu for g in groups if g.gpu), "some GPU nodes must be full"
    assert len({g.price_per_hour for g in groups}) > 3


def _mutate(path: list[Any], value: Any) -> dict[str, Any]:
    doc = copy.deepcopy(GOOD)
    target = doc
    for key in path[:-1]:
        target = target[key]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return doc


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (["clusters", 1, "role"], "edgy", "clusters[1].role: unknown role 'edgy'"),
        (
            ["clusters", 1, "name"],
            "tenant-b",
            "clusters[2].name: duplicate cluster name 'tenant-b'",
        ),
        (["clusters", 3, "region"], KeyError, "clusters[3].region: missing required field"),
        (
            ["clusters", 3, "nodes", 0, "cpu"],
            KeyError,
            "clusters[3].nodes[0].cpu: missing required field",
        ),
        (["clusters", 3, "nodes", 0, "count"], "four", "clusters[3].nodes[0].count: must be int"),
        (
            ["clusters", 3, "nodes", 0, "arch"],
            "s390x",
            "clusters[3].nodes[0].arch: must be amd64 or arm64",
        ),
        (
            ["clusters", 3, "nodes", 0, "colour"],
            "red",
            "clusters[3].nodes[0].colour: unknown field",
        ),
        (
            ["clusters", 3, "latencyMs"],
            {"mars": 3},
            "clusters[3].latencyMs.mars: not one of userRegions",
        ),
        (["clusters", 0, "role"], "tenant", "exactly one cluster must have role management"),
        (["clusters", 0, "name"], "Bad_Name", "clusters[0].name: 'Bad_Name' is not a DNS label"),
        (["clusters"], KeyError, "document.clusters: missing required field"),
    ],
)
def test_invalid_topology_names_the_field(path: list[Any], value: Any, message: str) -> None:
    with pytest.raises(TopologyError) as err:
        parse_topology(_mutate(path, value), "sandbox.yaml")
    assert message in str(err.value)
    assert str(err.value).startswith("sandbox.yaml: ")


def test_unreadable_and_non_yaml_files(tmp_path: Path) -> None:
    with pytest.raises(TopologyError, match="cannot read"):
        load_topology(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("clusters: [\n")
    with pytest.raises(TopologyError, match="not valid YAML"):
        load_topology(bad)


def test_edge_nodes_carry_gpu_arch_region_and_price() -> None:
    topo = load_topology(REPO / "config/sandbox.yaml")
    edge = topo.by_role("edge")[1]
    arm = next(g for g in edge.nodes if g.arch == "arm64")
    node = edge_node(edge, arm, "n-0")
    assert node["metadata"]["labels"]["kubernetes.io/arch"] == "arm64"
    assert node["status"]["nodeInfo"]["architecture"] == "arm64"
    assert node["metadata"]["labels"]["topology.kubernetes.io/region"] == edge.region
    assert node["metadata"]["annotations"]["kwok.x-k8s.io/node"] == "fake"
    gpu = next(g for g in edge.nodes if g.gpu)
    node = edge_node(edge, gpu, "g-0")
    assert node["status"]["allocatable"]["nvidia.com/gpu"] == str(gpu.gpu)
    assert node["metadata"]["labels"]["nvidia.com/gpu.product"] == gpu.gpu_model
    objs = edge_objects(edge)
    used = [o for o in objs if o["kind"] == "Pod"]
    assert len(used) == sum(g.count for g in edge.nodes if g.used_gpus)


def test_kwok_pod_ready_stage_reports_container_resources() -> None:
    stage = ("metadata:\n  name: pod-ready\nspec:\n  next:\n    statusTemplate: |\n"
             "      containerStatuses:\n      {{ range .spec.containers }}\n"
             "      - image: {{ .image | Quote }}\n        name: {{ .name | Quote }}\n"
             "        ready: true\n      {{ end }}\n")
    out = report_container_resources("a: 1\n---\n" + stage)
    assert "        resources: {{ .resources | toJson }}\n        ready: true" in out
    assert out.startswith("a: 1\n---\n")


NODE_STAGE = ("metadata:\n  name: {name}\nspec:\n  next:\n    statusTemplate: |\n"
              "      conditions: []\n{block}\n      {{{{ with NodePort }}}}\n"
              "      daemonEndpoints: {{}}\n      {{{{ end }}}}\n")


def test_node_stages_always_write_internal_ip_and_hostname() -> None:
    """kwok's own node-initialize writes a null address list for a node that has an
    InternalIP but no Hostname: the sandbox's stages never write a partial list."""
    initialize = NODE_STAGE.format(name="node-initialize", block=(
        "      {{ $hasInternalIP := false }}\n      {{ if not $hasInternalIP }}\n"
        "      addresses:\n      {{ end }}"))
    heartbeat = NODE_STAGE.format(name="node-heartbeat-with-lease", block=(
        "      addresses:\n      {{ with .status.addresses }}\n      {{ YAML . 1 }}\n"
        "      {{ end }}"))
    out = write_whole_node_addresses("\n---\n".join(["a: 1", initialize, heartbeat]))
    docs = out.split("\n---\n")
    assert docs[0] == "a: 1"
    for doc in docs[1:]:
        assert "$hasInternalIP" not in doc and ".status.addresses" not in doc
        assert ("      addresses:\n      {{ with NodeIP }}\n      - address: {{ . | Quote }}\n"
                "        type: InternalIP\n      {{ end }}\n"
                "      - address: {{ .metadata.name | Quote }}\n        type: Hostname\n\n"
                "      {{ with NodePort }}\n") in doc
        assert doc.startswith("metadata:") and doc.endswith("{{ end }}\n")


def test_node_address_fix_refuses_stages_it_does_not_recognise() -> None:
    with pytest.raises(SandboxError, match="node-heartbeat-with-lease"):
        write_whole_node_addresses(NODE_STAGE.format(
            name="node-initialize", block="      {{ $hasInternalIP := false }}"))


def test_tenant_job_pods_complete_by_label_after_their_annotated_delay() -> None:
    """A tenant Job's edge pod has no owner, only the Job controller's label."""
    stage = ("apiVersion: kwok.x-k8s.io/v1alpha1\nkind: Stage\nmetadata:\n  name: pod-complete\n"
             "spec:\n  selector:\n    matchExpressions:\n"
             "    - key: '.metadata.ownerReferences.[].kind'\n      operator: 'In'\n"
             "      values:\n      - 'Job'\n  next:\n    statusTemplate: |\n      phase: Succeeded")
    out = complete_labelled_job_pods("a: 1\n---\n" + stage)
    docs = out.split("\n---\n")
    assert docs[:2] == ["a: 1", stage], "kwok's own stages are kept as they were"
    added = docs[2]
    assert f"name: {JOB_POD_COMPLETE_STAGE}\n" in added
    assert "'.metadata.labels[\"batch.kubernetes.io/job-name\"]'\n      operator: 'Exists'" in added
    assert "ownerReferences'\n      operator: 'DoesNotExist'" in added
    # A container with a command finishes; the image's own entrypoint or sleep keeps running.
    assert "'.spec.containers.[0].command.[0]'\n      operator: 'Exists'" in added
    assert ("'.spec.containers.[0].command.[0]'\n      operator: 'NotIn'\n      values:\n"
            "      - 'sleep'") in added
    assert "pod-complete.stage.kwok.x-k8s.io/delay" in added
    assert added.endswith("phase: Succeeded")


def test_job_stage_refuses_a_pod_complete_stage_it_does_not_recognise() -> None:
    with pytest.raises(SandboxError, match="pod-complete"):
        complete_labelled_job_pods("metadata:\n  name: pod-ready\nspec:\n")


def test_pod_delete_waits_for_its_annotated_delay() -> None:
    stage = ("apiVersion: kwok.x-k8s.io/v1alpha1\nkind: Stage\nmetadata:\n  name: pod-delete\n"
             "spec:\n  selector:\n    matchExpressions:\n"
             "    - key: '.metadata.deletionTimestamp'\n      operator: 'Exists'\n"
             "  next:\n    delete: true")
    docs = delay_deletes_by_annotation("a: 1\n---\n" + stage).split("\n---\n")
    assert docs[0] == "a: 1"
    assert docs[1].startswith(stage[:stage.index("spec:\n") + 6] + "  delay:\n")
    assert "'.metadata.annotations[\"pod-delete.stage.kwok.x-k8s.io/delay\"]'" in docs[1]
    assert docs[1].endswith("  next:\n    delete: true")
    with pytest.raises(SandboxError, match="pod-delete"):
        delay_deletes_by_annotation("a: 1")
