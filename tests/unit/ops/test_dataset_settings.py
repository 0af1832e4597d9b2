"""settings.datasets: the image and resources of EdgeDataset download and cleanup Jobs
(flag, environment, file; errors name where the value came from)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from syncer.kinds.dataset_translate import FETCH_RESOURCES, FETCHER_IMAGE
from syncer.ops.settings import DatasetSettings, SettingsError, build_arg_parser, load_settings

REPO = Path(__file__).resolve().parents[3]


def test_the_defaults_are_the_downloaders_image_and_modest_resources() -> None:
    got = load_settings([], {}).datasets
    assert got == DatasetSettings()
    assert got.image == FETCHER_IMAGE == "ghcr.io/fusionvc/fusionvc:0.1.0"
    assert FETCH_RESOURCES == {"requests": {"cpu": "50m", "memory": "64Mi"},
                               "limits": {"cpu": "1", "memory": "256Mi"}}


def test_flag_env_and_file(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("datasets:\n  image: from-file:1\n  memory_limit: 1Gi\n")
    got = load_settings(["--config", str(path), "--dataset-job-cpu-limit", "2"],
                        {"FUSIONVC_DATASET_IMAGE": "registry.local/fusionvc:dev"}).datasets
    assert (got.image, got.cpu_limit, got.memory_limit) == ("registry.local/fusionvc:dev", "2",
                                                            "1Gi")


@pytest.mark.parametrize(("argv", "env", "where"), [
    (["--dataset-job-memory-limit", "lots"], {}, "--dataset-job-memory-limit"),
    ([], {"FUSIONVC_DATASET_JOB_CPU_REQUEST": "-1"}, "FUSIONVC_DATASET_JOB_CPU_REQUEST"),
    (["--dataset-job-cpu-request", "0"], {}, "--dataset-job-cpu-request"),
    (["--dataset-image", " "], {}, "--dataset-image"),
    (["--dataset-job-memory-request", "1Gi"], {}, "--dataset-job-memory-request"),  # > limit
])
def test_bad_values_name_their_source(argv: list[str], env: dict[str, str], where: str) -> None:
    with pytest.raises(SettingsError, match=f"^{where}: "):
        load_settings(argv, env)


def test_the_help_lists_them() -> None:
    text = build_arg_parser().format_help()
    assert "--dataset-image" in text and "FUSIONVC_DATASET_JOB_MEMORY_LIMIT" in text


@pytest.mark.parametrize("module", ["syncer.daemon", "syncer.placement", "syncer.bound_claims",
                                    "syncer.kinds.edgedatasets"])
def test_each_module_imports_first_in_a_fresh_process(module: str) -> None:
    """The placer's claim view sits below syncer.kinds (which imports the placer): no cycle
    whichever module a process imports first."""
    done = subprocess.run([sys.executable, "-c", f"import {module}"], cwd=REPO,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
