"""Downward API values a pod reads are the tenant's (pod_translate.translate_pod_down)."""

from __future__ import annotations

import pytest

from syncer.kinds.pod_translate import translate_pod_down
from syncer.kube import Obj
from tests.builders import container, pod, pod_spec


def env_of(field: str) -> Obj:
    return {"name": "V", "valueFrom": {"fieldRef": {"fieldPath": field}}}


CASES = [  # (fieldPath, what the edge copy's env holds: a literal, or the fieldRef kept)
    ("metadata.uid", {"name": "V", "value": "tenant-pod-uid"}),
    ("metadata.namespace", {"name": "V", "value": "shop"}),
    ("spec.nodeName", {"name": "V", "value": "vn-edge-1-n1"}),
    ("metadata.name", env_of("metadata.name")),  # the same name on both sides
    ("status.podIP", env_of("status.podIP")),
]


@pytest.mark.parametrize(("field", "want"), CASES)
def test_downward_api_env_gives_tenant_values(field: str, want: Obj) -> None:
    p = pod("shop", "web", uid="tenant-pod-uid",
            spec=pod_spec(containers=[container(env=[env_of(field)])]))
    out = translate_pod_down(p, tenant="t", edge_namespace="t-1-shop", edge_node="n1",
                             virtual_node="vn-edge-1-n1")
    assert out["spec"]["containers"][0]["env"] == [want]
