"""Pod translation between tenant and edge (syncer/kinds/pod_translate.py)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from syncer.core import markers
from syncer.kinds.pod_status import translate_pod_status_up
from syncer.kinds.pod_translate import (
    edge_delete_shortens,
    metadata_patch,
    owner_uid,
    spec_patch,
    tenant_generation,
    translate_pod_down,
    update_patch,
)

Obj = dict[str, Any]
TOKEN_VOLUME = {"name": "kube-api-access-x7k2p", "projected": {"defaultMode": 420, "sources": [
    {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
    {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
    {"downwardAPI": {"items": [{"path": "namespace",
                                "fieldRef": {"apiVersion": "v1",
                                             "fieldPath": "metadata.namespace"}}]}}]}}
TOKEN_MOUNT = {"name": "kube-api-access-x7k2p", "readOnly": True,
               "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}
DOWN = {"tenant": "acme", "edge_namespace": "acme-abc123-shop", "edge_node": "edge-node-7",
        "virtual_node": "vn-edge-1-edge-node-7"}


def env_field(name: str, path: str) -> Obj:
    return {"name": name, "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": path}}}


def tenant_pod(**spec: Any) -> Obj:
    """A pod as the tenant apiserver returns it (service account admission applied)."""
    base_spec: Obj = {
        "containers": [
            {"name": "app", "image": "shop:1",
             "env": [env_field("MY_NS", "metadata.namespace"),
                     env_field("MY_NODE", "spec.nodeName"),
                     env_field("MY_NAME", "metadata.name"),
                     {"name": "PLAIN", "value": "x"}],
             "volumeMounts": [{"name": "data", "mountPath": "/data"}, dict(TOKEN_MOUNT)]},
            {"name": "side", "image": "side:1", "volumeMounts": [dict(TOKEN_MOUNT)]},
        ],
        "initContainers": [{"name": "init", "image": "init:1",
                            "env": [env_field("NS", "metadata.namespace")],
                            "volumeMounts": [dict(TOKEN_MOUNT)]}],
        "volumes": [{"name": "data", "emptyDir": {}}, copy.deepcopy(TOKEN_VOLUME)],
        "serviceAccountName": "shop-sa", "serviceAccount": "shop-sa",
        "nodeSelector": {"disk": "ssd"},
        "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {}}},
        "topologySpreadConstraints": [{"maxSkew": 1}],
        "priorityClassName": "high", "priority": 1000, "preemptionPolicy": "Never",
        "schedulerName": "default-scheduler", "restartPolicy": "Always",
        "tolerations": [{"key": "k", "operator": "Exists"}],
        **spec,
    }
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "name": "shop-0", "namespace": "shop", "uid": "pod-uid-1",
            "resourceVersion": "42",
            "labels": {"app": "shop", markers.TENANT: "someone-else"},
            "annotations": {"team": "checkout",
                            "kubectl.kubernetes.io/last-applied-configuration": "{}"},
            "ownerReferences": [
                {"apiVersion": "v1", "kind": "Thing", "name": "t", "uid": "not-controller"},
                {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "shop",
                 "uid": "sts-uid", "controller": True}],
        },
        "spec": base_spec,
        "status": {"phase": "Pending"},
    }


def down(pod: Obj) -> Obj:
    return translate_pod_down(pod, **DOWN)


def test_metadata_markers_and_owner() -> None:
    meta = down(tenant_pod())["metadata"]
    assert meta["name"] == "shop-0"
    assert meta["namespace"] == "acme-abc123-shop"
    assert meta["labels"] == {"app": "shop", markers.MANAGED_BY: "fusionvc",
                              markers.TENANT: "acme"}  # the tenant cannot fake the tenant label
    assert meta["annotations"] == {
        "team": "checkout",
        markers.TENANT_NAMESPACE: "shop", markers.TENANT_NAME: "shop-0",
        markers.TENANT_UID: "pod-uid-1", markers.OWNER_UID: "sts-uid",
        markers.VIRTUAL_NODE: "vn-edge-1-edge-node-7", markers.TENANT_GENERATION: "1"}
    assert set(meta) == {"name", "namespace", "labels", "annotations"}  # no ownerRefs, uid, rv


def test_result_is_a_pod() -> None:
    out = down(tenant_pod())
    assert (out["apiVersion"], out["kind"]) == ("v1", "Pod")
    assert "status" not in out


@pytest.mark.parametrize(
    ("refs", "expected"),
    [
        (None, None),
        ([], None),
        ([{"kind": "ReplicaSet", "uid": "rs-1"}], None),
        ([{"kind": "ReplicaSet", "uid": "rs-1", "controller": False}], None),
        ([{"kind": "ReplicaSet", "uid": "rs-1", "controller": True}], "rs-1"),
        ([{"kind": "A", "uid": "a"}, {"kind": "B", "uid": "b", "controller": True}], "b"),
    ],
)
def test_owner_uid(refs: list[Obj] | None, expected: str | None) -> None:
    pod = tenant_pod()
    pod["metadata"]["ownerReferences"] = refs
    assert owner_uid(pod) == expected
    annotations = down(pod)["metadata"]["annotations"]
    assert annotations.get(markers.OWNER_UID) == expected


def test_scheduling_and_placement() -> None:
    spec = down(tenant_pod(nodeName="vn-edge-1-edge-node-7"))["spec"]
    assert spec["nodeName"] == "edge-node-7"
    for dropped in ("nodeSelector", "affinity", "priorityClassName", "priority",
                    "topologySpreadConstraints", "schedulerName", "preemptionPolicy",
                    "serviceAccount"):
        assert dropped not in spec, dropped
    assert spec["tolerations"] == [{"key": "k", "operator": "Exists"}]
    assert spec["restartPolicy"] == "Always"


def test_service_account_is_the_edge_default() -> None:
    spec = down(tenant_pod())["spec"]
    assert spec["serviceAccountName"] == "default"


# Never on the edge, even when the tenant asks for it: the edge would mount its own
# ServiceAccount token and CA (issue 18, item 2).
@pytest.mark.parametrize(("tenant_value", "expected"),
                         [(None, False), (False, False), (True, False), ("true", False)])
def test_automount_never_on_the_edge(tenant_value: Any, expected: bool) -> None:
    extra = {} if tenant_value is None else {"automountServiceAccountToken": tenant_value}
    assert down(tenant_pod(**extra))["spec"]["automountServiceAccountToken"] is expected


def test_token_volume_and_mounts_removed() -> None:
    spec = down(tenant_pod())["spec"]
    assert spec["volumes"] == [{"name": "data", "emptyDir": {}}]
    app, side = spec["containers"]
    assert app["volumeMounts"] == [{"name": "data", "mountPath": "/data"}]
    assert side["volumeMounts"] == []
    assert spec["initContainers"][0]["volumeMounts"] == []
    text = json.dumps(spec)
    assert "kube-api-access" not in text
    assert "serviceAccountToken" not in text


def test_pod_without_volumes() -> None:
    pod = tenant_pod()
    del pod["spec"]["volumes"]
    for c in pod["spec"]["containers"] + pod["spec"]["initContainers"]:
        c.pop("volumeMounts", None)
    spec = down(pod)["spec"]
    assert "volumes" not in spec


def test_downward_api_env_becomes_literals() -> None:
    spec = down(tenant_pod())["spec"]
    assert spec["containers"][0]["env"] == [
        {"name": "MY_NS", "value": "shop"},  # the tenant namespace, not the edge one
        {"name": "MY_NODE", "value": "vn-edge-1-edge-node-7"},  # the virtual node
        env_field("MY_NAME", "metadata.name"),
        {"name": "PLAIN", "value": "x"},
    ]
    assert spec["initContainers"][0]["env"] == [{"name": "NS", "value": "shop"}]


def test_annotations_drop_kubectl_keys() -> None:
    annotations = down(tenant_pod())["metadata"]["annotations"]
    assert not any(k.startswith("kubectl.kubernetes.io/") for k in annotations)


def test_input_is_not_mutated() -> None:
    pod = tenant_pod()
    before = copy.deepcopy(pod)
    out = down(pod)
    assert pod == before
    out["spec"]["containers"][0]["image"] = "changed"
    out["metadata"]["labels"]["x"] = "y"
    out["metadata"]["annotations"]["x"] = "y"
    assert pod == before


def test_translation_is_deterministic() -> None:
    assert down(tenant_pod()) == down(tenant_pod())


def edge_meta(labels: Obj | None, annotations: Obj | None) -> Obj:
    meta: Obj = {"name": "p"}
    if labels is not None:
        meta["labels"] = labels
    if annotations is not None:
        meta["annotations"] = annotations
    return {"metadata": meta}


@pytest.mark.parametrize(
    ("have", "want", "expected"),
    [
        (edge_meta({"a": "1"}, {"x": "1"}), edge_meta({"a": "1"}, {"x": "1"}), None),
        (edge_meta(None, None), edge_meta({}, {}), None),
        (edge_meta({"a": "1", "b": "2"}, {"x": "1"}), edge_meta({"a": "1", "c": "3"}, {"x": "1"}),
         {"metadata": {"labels": {"c": "3", "b": None}}}),
        (edge_meta({"a": "1"}, {"x": "1"}), edge_meta({"a": "2"}, {"x": "1", "y": "2"}),
         {"metadata": {"labels": {"a": "2"}, "annotations": {"y": "2"}}}),
        (edge_meta({"a": "1"}, {"x": "1", "old": "v"}), edge_meta({"a": "1"}, {"x": "1"}),
         {"metadata": {"annotations": {"old": None}}}),
        (edge_meta(None, {"x": "1"}), edge_meta({"a": "1"}, None),
         {"metadata": {"labels": {"a": "1"}, "annotations": {"x": None}}}),
    ],
)
def test_metadata_patch(have: Obj, want: Obj, expected: Obj | None) -> None:
    assert metadata_patch(have, want) == expected


def test_metadata_patch_of_a_fresh_translation_is_none() -> None:
    out = down(tenant_pod())
    assert metadata_patch(copy.deepcopy(out), out) is None


def containers(**images: str) -> Obj:
    return {"spec": {"containers": [{"name": n, "image": i} for n, i in images.items()]}}


@pytest.mark.parametrize(
    ("have", "want", "expected"),
    [
        (containers(app="a:1", side="s:1"), containers(app="a:1", side="s:1"), None),
        (containers(app="a:1", side="s:1"), containers(app="a:2", side="s:1"),
         {"spec": {"containers": [{"name": "app", "image": "a:2"}]}}),
        (containers(app="a:1", side="s:1"), containers(app="a:2", side="s:2"),
         {"spec": {"containers": [{"name": "app", "image": "a:2"},
                                  {"name": "side", "image": "s:2"}]}}),
    ],
)
def test_spec_patch_of_images(have: Obj, want: Obj, expected: Obj | None) -> None:
    assert spec_patch(have, want) == expected


TOLERATE = {"key": "k", "operator": "Exists", "effect": "NoSchedule"}


@pytest.mark.parametrize(
    ("have", "want", "expected"),
    [
        ({"activeDeadlineSeconds": 60}, {"activeDeadlineSeconds": 30},
         {"activeDeadlineSeconds": 30}),
        ({}, {"activeDeadlineSeconds": 30}, {"activeDeadlineSeconds": 30}),
        ({"activeDeadlineSeconds": 30}, {}, None),  # cannot be removed: nothing to write
        ({"tolerations": []}, {"tolerations": [TOLERATE]}, {"tolerations": [TOLERATE]}),
        ({"tolerations": [TOLERATE]}, {"tolerations": [TOLERATE]}, None),
        ({"initContainers": [{"name": "i", "image": "i:1"}]},
         {"initContainers": [{"name": "i", "image": "i:2"}]},
         {"initContainers": [{"name": "i", "image": "i:2"}]}),
        ({"containers": [{"name": "a", "image": "a:1"}]},
         {"containers": [{"name": "b", "image": "b:1"}]}, None),  # not an in-place change
    ],
    ids=["deadline-shorter", "deadline-set", "deadline-kept", "toleration-added",
         "tolerations-same", "init-image", "container-added"],
)
def test_spec_patch_of_mutable_fields(have: Obj, want: Obj, expected: Obj | None) -> None:
    out = spec_patch({"spec": have}, {"spec": want})
    assert out == ({"spec": expected} if expected else None)


def test_generation_marker_travels_with_the_spec_and_becomes_observed_generation() -> None:
    tpod = tenant_pod()
    tpod["metadata"]["generation"] = 3
    out = down(tpod)
    assert tenant_generation(out) == 3
    out["status"] = {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}
    up = translate_pod_status_up(out)
    assert up["observedGeneration"] == 3
    assert up["conditions"] == [{"type": "Ready", "status": "True", "observedGeneration": 3}]
    assert "observedGeneration" not in out["status"]["conditions"][0]  # input not mutated
    assert translate_pod_status_up({**out, "status": {}}) == {}  # no status yet: nothing


def test_update_patch_moves_the_generation_marker_with_the_spec_change() -> None:
    tpod = tenant_pod()
    tpod["metadata"]["generation"] = 1
    have = down(tpod)
    tpod["metadata"]["generation"] = 2
    tpod["spec"]["containers"][0]["image"] = "new:2"
    patch = update_patch(have, down(tpod))
    assert patch is not None
    assert patch["metadata"]["annotations"] == {"fusionvc.io/tenant-generation": "2"}
    assert patch["spec"]["containers"][0]["image"] == "new:2"
    assert update_patch(have, have) is None


@pytest.mark.parametrize(("marked", "tenant_grace", "expected"), [
    (None, None, True),  # not marked: delete, with the pod's own grace
    (None, 30, True),
    (30, 5, True),  # kubectl delete --grace-period=5 after a plain delete: cut it
    (30, 0, True),
    (30, 30, False),  # the same mark: nothing to change
    (5, 30, False),  # longer: the API server would not lengthen it
    (30, None, False),  # the tenant pod is gone (a force delete): the copy keeps its mark
])
def test_edge_delete_shortens_only_a_longer_mark(marked: int | None, tenant_grace: int | None,
                                                 expected: bool) -> None:
    meta: Obj = {"name": "web", "namespace": "t-shop"}
    if marked is not None:
        meta.update(deletionTimestamp="2026-01-01T00:00:30Z", deletionGracePeriodSeconds=marked)
    assert edge_delete_shortens({"metadata": meta}, tenant_grace) is expected
