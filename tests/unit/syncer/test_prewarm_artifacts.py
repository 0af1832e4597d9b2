"""ImagePrewarm entries of kind Artifact (an OCI artifact without a shell): pulled through an
image volume mounted into a no-op container instead of run as the container."""

from __future__ import annotations

from syncer.fleet.registries import PULL_SECRET, pull_secret_names, resolve_registry_auths
from syncer.fleet.specs import parse_tenant_spec
from syncer.kinds.prewarm_translate import ARTIFACT_RUNNER, parse_prewarm_spec, work_pod_spec
from syncer.kube import Obj

from .test_registry_credentials import REGISTRIES, SERVER, basic_auth

MODEL = f"{SERVER}/models/qwen2-7b:v1"


def _spec(*entries: Obj) -> Obj:
    return {"images": list(entries)}


def test_artifacts_are_image_volumes_of_a_no_op_container() -> None:
    spec = parse_prewarm_spec(_spec({"image": "app:1"}, {"image": MODEL, "kind": "Artifact"}))
    assert spec.artifacts == frozenset({1})
    pod = work_pod_spec(spec, "n1", ())
    (app,) = pod["containers"]
    assert app["image"] == "app:1" and app["command"] == ["/bin/sh", "-c", "exit 0"]
    assert pod["volumes"] == [{"name": "artifact-1", "image": {"reference": MODEL,
                                                               "pullPolicy": "IfNotPresent"}}]
    assert app["volumeMounts"] == [{"name": "artifact-1", "mountPath": "/artifacts/1",
                                    "readOnly": True}]


def test_only_artifacts_run_the_no_op_in_the_fusionvc_image() -> None:
    spec = parse_prewarm_spec(_spec({"image": MODEL, "kind": "Artifact"}))
    pod = work_pod_spec(spec, "n1", ())
    (runner,) = pod["containers"]
    assert runner["image"] == ARTIFACT_RUNNER and runner["name"] == "artifacts"
    assert [v["image"]["reference"] for v in pod["volumes"]] == [MODEL]
    assert "volumes" not in work_pod_spec(parse_prewarm_spec(_spec({"image": "a:1"})), "n", ())


def test_artifacts_from_the_tenants_registry_get_its_pull_secret() -> None:
    auths = resolve_registry_auths(parse_tenant_spec(REGISTRIES).registries,
                                   {"reg-a": basic_auth("reg-a", "robot", "s3cret")}.get)
    spec = parse_prewarm_spec(_spec({"image": MODEL, "kind": "Artifact"}))
    work = {"metadata": {"name": "w"}, "spec": work_pod_spec(spec, "n1", ())}
    assert pull_secret_names(auths, work) == (PULL_SECRET,)
