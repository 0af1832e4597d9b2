"""Pulls from unpullable.invalid fail in the sandbox: kwok's pod-ready leaves such pods alone and
a stage of ours shows ErrImagePull (hack/sandbox_lib/pull_failures.py)."""

from __future__ import annotations

import pytest
import yaml
from sandbox_lib.processes import SandboxError
from sandbox_lib.pull_failures import PULL_FAILED_STAGE, UNPULLABLE_HOST, fail_unpullable_pulls

READY = ("apiVersion: kwok.x-k8s.io/v1alpha1\nkind: Stage\nmetadata:\n  name: pod-ready\n"
         "spec:\n  selector:\n    matchExpressions:\n"
         "    - key: '.status.phase'\n      operator: 'In'\n      values:\n      - 'Pending'\n"
         "  next:\n    statusTemplate: |\n      phase: Running")


def test_unpullable_pods_skip_pod_ready_and_get_err_image_pull() -> None:
    docs = [yaml.safe_load(d) for d in fail_unpullable_pulls("a: 1\n---\n" + READY)
            .split("\n---\n")]
    assert docs[0] == {"a": 1}
    ready, failed = docs[1], docs[2]
    (skip, _phase) = ready["spec"]["selector"]["matchExpressions"]
    assert (skip["operator"], skip["values"]) == ("NotIn", ["true"])
    assert f'startswith("{UNPULLABLE_HOST}/")' in skip["key"] and "image.reference" in skip["key"]
    assert failed["metadata"]["name"] == PULL_FAILED_STAGE
    keys = {e["key"]: e for e in failed["spec"]["selector"]["matchExpressions"]}
    assert keys[skip["key"]]["operator"] == "In"
    template = failed["spec"]["next"]["statusTemplate"]
    assert "reason: ErrImagePull" in template and "phase: Pending" in template


def test_a_changed_pod_ready_stage_is_refused() -> None:
    with pytest.raises(SandboxError, match="pod-ready"):
        fail_unpullable_pulls("a: 1")
