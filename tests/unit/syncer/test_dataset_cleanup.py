"""Cleanup Jobs of dataset folders: the folder read (and checked) from the download Job, the
cleanup Job pinned to its node, created suspended and resumed once the download Job is gone,
deleted once it succeeded; for a changed source, a deleted EdgeDataset and a deleted Tenant.
The remover itself runs as a real process on a temporary folder."""

from __future__ import annotations

import copy
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from syncer.core import markers
from syncer.kinds.dataset_cleanup import (
    CopyFolder,
    copy_folder,
    release,
    translate_cleanup_job,
)
from syncer.kinds.dataset_translate import (
    DATASET_NAMESPACE,
    parse_dataset_spec,
    translate_dataset_job,
)
from syncer.kinds.edge_targets import Target
from syncer.kinds.edgedatasets import EdgeDatasetSyncer
from syncer.kube import Obj
from syncer.kube.apis import EDGEDATASETS, JOBS
from syncer.ops.settings import DatasetSettings

from .harness import SyncTest
from .test_edgedatasets import SHA, cleanups, dataset, downloads, finished

REPO = Path(__file__).resolve().parents[3]
SETTINGS = DatasetSettings(image="registry.local/fusionvc:test", cpu_request="10m",
                           memory_request="32Mi", cpu_limit="100m", memory_limit="64Mi")


def download_job(node: str = "n1", ens: str = "tenant-a-abc123-shop") -> Obj:
    obj = translate_dataset_job(dataset(), parse_dataset_spec(dataset()["spec"]),
                                Target("edge-1", node), tenant="tenant-a", edge_namespace=ens)
    obj["metadata"]["uid"] = "job-uid"
    return obj


# ---- pure -----------------------------------------------------------------------------------


def test_the_folder_is_read_from_the_download_job() -> None:
    assert copy_folder(download_job()) == CopyFolder("n1", "tenant-a-abc123-shop", "qwen",
                                                     SHA[:16])


def _with_path(path: str, node: str = "n1") -> Obj:
    job = copy.deepcopy(download_job())
    spec = job["spec"]["template"]["spec"]
    spec["volumes"][0]["hostPath"]["path"], spec["nodeName"] = path, node
    return job


@pytest.mark.parametrize(("path", "node"), [
    ("/var/lib/fusionvc/datasets/ns/qwen", "n1"),  # no sha part
    ("/var/lib/fusionvc/datasets/ns/../" + SHA[:16], "n1"),
    ("/var/lib/fusionvc/datasets/../../etc/" + SHA[:16], "n1"),
    ("/var/lib/fusionvc/datasets/ns/qwen/" + SHA[:15] + "g", "n1"),
    ("/var/lib/fusionvc/datasets/ns/qwen/x/" + SHA[:16], "n1"),
    ("/etc/fusionvc/datasets/ns/qwen/" + SHA[:16], "n1"),
    ("/var/lib/fusionvc/datasets/NS/qwen/" + SHA[:16], "n1"),
    ("/var/lib/fusionvc/datasets/ns/qwen/" + SHA[:16], ""),
    ("/var/lib/fusionvc/datasets/ns/qwen/" + SHA[:16], "../n1"),
])
def test_a_folder_fusionvc_does_not_write_gets_no_cleanup(path: str, node: str) -> None:
    assert copy_folder(_with_path(path, node)) is None


def test_the_cleanup_job_removes_only_that_copy_on_its_node() -> None:
    download = download_job()
    folder = copy_folder(download)
    assert folder is not None
    job = translate_cleanup_job(download, folder, SETTINGS)
    meta, spec = job["metadata"], job["spec"]
    assert meta["name"] == "edc-" + download["metadata"]["name"].removeprefix("eds-")
    assert meta["namespace"] == DATASET_NAMESPACE
    assert meta["labels"]["edge.fusionvc.io/dataset-cleanup"] == "true"
    assert meta["labels"][markers.TENANT] == "tenant-a"
    assert meta["annotations"][markers.TENANT_NAME] == "qwen"
    assert spec["suspend"] is True and spec["ttlSecondsAfterFinished"] > 0
    pod = spec["template"]["spec"]
    assert pod["nodeName"] == "n1" and "annotations" not in spec["template"]["metadata"]
    assert pod["volumes"] == [{"name": "datasets", "hostPath": {
        "path": "/var/lib/fusionvc/datasets/tenant-a-abc123-shop", "type": "DirectoryOrCreate"}}]
    (container,) = pod["containers"]
    assert container["image"] == SETTINGS.image
    assert container["command"][:3] == ["python", "-m", "syncer.datasetfetch.remove"]
    assert container["command"][3:7] == ["--root", "/datasets", "--copy", f"qwen/{SHA[:16]}"]
    assert container["resources"] == {"requests": {"cpu": "10m", "memory": "32Mi"},
                                      "limits": {"cpu": "100m", "memory": "64Mi"}}


# ---- on the syncer --------------------------------------------------------------------------


@pytest.fixture
def fleet() -> Iterator[SyncTest]:
    sync = SyncTest.one_of_each()
    yield sync
    sync.close()


def download_and_cleanup() -> tuple[Obj, Obj]:
    download = download_job()
    folder = copy_folder(download)
    assert folder is not None
    return download, translate_cleanup_job(download, folder, SETTINGS)


async def test_release_waits_for_the_download_job_to_be_gone(fleet: SyncTest) -> None:
    edge = fleet.ctx.edges["edge-1"]
    download, cleanup = download_and_cleanup()
    assert cleanup["metadata"]["annotations"]["edge.fusionvc.io/retired-job-uid"] == "job-uid"
    fleet.put(edge, JOBS, download)  # the retired one, still in the cache (deleted, or soon)
    fleet.put(edge, JOBS, cleanup)
    await release(edge, [cleanup])
    assert not fleet.client(edge).writes(JOBS)
    fleet.remove(edge, JOBS, DATASET_NAMESPACE, download["metadata"]["name"])
    await release(edge, [cleanup])
    (patch,) = fleet.client(edge).writes(JOBS)
    assert (patch.verb, patch.body) == ("patch", {"spec": {"suspend": False}})


async def test_a_changed_source_and_a_deletion_clean_the_old_folders(fleet: SyncTest) -> None:
    tenant, edge = fleet.ctx.tenants["tenant-a"], fleet.ctx.edges["edge-1"]
    syncer = fleet.controller.syncers["EdgeDataset"]
    assert isinstance(syncer, EdgeDatasetSyncer)
    syncer.job_settings = SETTINGS
    fleet.put(tenant, EDGEDATASETS, dataset())
    await fleet.settle()
    (old,) = downloads(fleet).values()
    assert old["spec"]["template"]["spec"]["containers"][0]["image"] == SETTINGS.image
    fleet.put(tenant, EDGEDATASETS, dataset(sha="cd" * 32))
    await fleet.settle()
    deletes = [c for c in fleet.client(edge).writes(JOBS) if c.verb == "delete"]
    assert deletes[0].name == old["metadata"]["name"]
    (cleanup,) = cleanups(fleet)
    assert cleanup["metadata"]["name"] == "edc-" + old["metadata"]["name"][4:]
    assert cleanup["spec"]["suspend"] is False  # the download Job is gone: it runs
    assert f"qwen/{SHA[:16]}" in cleanup["spec"]["template"]["spec"]["containers"][0]["command"]
    creates = [c.name for c in fleet.client(edge).writes(JOBS) if c.verb == "create"]
    assert creates.index(cleanup["metadata"]["name"]) < creates.index(
        next(iter(downloads(fleet).values()))["metadata"]["name"])  # record first
    fleet.put(edge, JOBS, finished(cleanup, True))
    await fleet.settle()
    assert not cleanups(fleet)  # deleted once it succeeded
    fleet.remove(tenant, EDGEDATASETS, "shop", "qwen")
    await fleet.settle()
    (cleanup,) = cleanups(fleet)
    assert f"qwen/{'cd' * 8}" in cleanup["spec"]["template"]["spec"]["containers"][0]["command"]
    fleet.put(edge, JOBS, finished(cleanup, False))
    await fleet.settle()
    assert cleanups(fleet)  # a failed one stays (its TTL removes it)


async def test_a_deleted_tenants_jobs_are_retired_on_every_edge(fleet: SyncTest) -> None:
    tenant, edge = fleet.ctx.tenants["tenant-a"], fleet.ctx.edges["edge-1"]
    fleet.put(tenant, EDGEDATASETS, dataset())
    await fleet.settle()
    foreign = copy.deepcopy(download_job())
    foreign["metadata"].update(name="eds-other-123456789012", uid="other-uid")
    foreign["metadata"]["labels"][markers.TENANT] = "tenant-b"
    fleet.put(edge, JOBS, foreign)
    del fleet.ctx.tenants["tenant-a"]  # Management drops the Tenant, then asks the syncers
    await fleet.controller.remove_tenant("tenant-a")
    await fleet.settle()
    left = {j["metadata"]["name"] for j in edge.store(JOBS)}
    assert "eds-other-123456789012" in left  # another tenant's Job stays
    (cleanup,) = cleanups(fleet)
    assert cleanup["spec"]["suspend"] is False  # released by the edge event, tenant gone
    deleted = next(c for c in fleet.client(edge).writes(JOBS) if c.verb == "delete")
    assert deleted.name.startswith("eds-qwen-")


# ---- the remover, as a real process ---------------------------------------------------------


def _remove(root: Path, copy_arg: str, log: Path | None = None) -> subprocess.CompletedProcess[str]:
    args = [sys.executable, "-m", "syncer.datasetfetch.remove", "--root", str(root),
            "--copy", copy_arg]
    if log is not None:
        args += ["--termination-log", str(log)]
    return subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=60, check=False)


def test_the_remover_deletes_one_copy_and_nothing_else(tmp_path: Path) -> None:
    root = tmp_path / "tenant-a-abc123-shop"
    old, new = root / "qwen" / ("a" * 16), root / "qwen" / ("b" * 16)
    for folder in (old, new, root / "llm" / ("a" * 16)):
        (folder / "sub").mkdir(parents=True)
        (folder / "model.bin").write_bytes(b"x" * 1000)
        (folder / ".ready").write_text("sha\n")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_text("keep")
    (old / "link").symlink_to(outside)  # a symlink inside is removed, not followed
    log = tmp_path / "termination-log"
    done = _remove(root, f"qwen/{'a' * 16}", log)
    assert done.returncode == 0, done.stderr
    assert log.read_text() == f"Removed: qwen/{'a' * 16}"
    assert not old.exists() and new.exists() and (root / "llm" / ("a" * 16)).exists()
    assert (outside / "keep").exists()
    assert _remove(root, f"qwen/{'b' * 16}").returncode == 0
    assert not (root / "qwen").exists()  # the emptied dataset folder goes too
    again = _remove(root, f"qwen/{'b' * 16}")
    assert again.returncode == 0 and "Absent" in again.stderr


@pytest.mark.parametrize("bad", ["../qwen/" + "a" * 16, "qwen/../" + "a" * 16, "/etc/" + "a" * 16,
                                 "qwen/" + "a" * 15, "qwen", "qwen/" + "A" * 16,
                                 "qwen/x/" + "a" * 16, "./" + "a" * 16])
def test_the_remover_refuses_any_other_path(tmp_path: Path, bad: str) -> None:
    (tmp_path / "qwen" / ("a" * 16)).mkdir(parents=True)
    done = _remove(tmp_path, bad)
    assert done.returncode == 2 and "InvalidArguments" in done.stderr
    assert (tmp_path / "qwen" / ("a" * 16)).exists()


def test_the_remover_refuses_a_symlink_in_place_of_the_folder(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.mkdir()
    (target / "keep").write_text("keep")
    (tmp_path / "root" / "qwen").mkdir(parents=True)
    (tmp_path / "root" / "qwen" / ("a" * 16)).symlink_to(target)
    done = _remove(tmp_path / "root", f"qwen/{'a' * 16}")
    assert done.returncode == 5 and "RemoveFailed" in done.stderr
    assert (target / "keep").exists()


async def test_a_source_changed_back_waits_for_the_old_folders_cleanup(fleet: SyncTest) -> None:
    tenant, edge = fleet.ctx.tenants["tenant-a"], fleet.ctx.edges["edge-1"]
    fleet.put(tenant, EDGEDATASETS, dataset())
    await fleet.settle()
    (first,) = downloads(fleet).values()
    fleet.put(tenant, EDGEDATASETS, dataset(sha="cd" * 32))
    await fleet.settle()
    fleet.put(tenant, EDGEDATASETS, dataset())  # back to the first source
    await fleet.settle()
    # Its folder's cleanup Job has not finished: the same copy is not downloaded again yet.
    assert first["metadata"]["name"] not in {j["metadata"]["name"] for j in edge.store(JOBS)
                                             if not j["metadata"].get("deletionTimestamp")}
    assert any(c["metadata"]["name"] == "edc-" + first["metadata"]["name"][4:]
               for c in cleanups(fleet))
    for cleanup in cleanups(fleet):
        fleet.put(edge, JOBS, finished(cleanup, True))
    await fleet.settle()
    assert first["metadata"]["name"] in {j["metadata"]["name"] for j in downloads(fleet).values()}


async def test_a_waiting_cleanup_of_a_copy_wanted_again_is_cancelled(fleet: SyncTest) -> None:
    edge = fleet.ctx.edges["edge-1"]
    download, cleanup = download_and_cleanup()
    cleanup["metadata"]["uid"] = "cleanup-uid"
    download["metadata"]["uid"] = "a-new-one"  # the same copy downloaded again: in use
    fleet.put(edge, JOBS, download)
    fleet.put(edge, JOBS, cleanup)
    await release(edge, [cleanup])
    (call,) = fleet.client(edge).writes(JOBS)
    assert (call.verb, call.name) == ("delete", cleanup["metadata"]["name"])
