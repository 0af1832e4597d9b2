"""Registry credentials: spec parsing, resolution from management Secrets, the edge pull
Secret, the edge pod's reference to it, and that no other tenant or pod gets it."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import pytest

from syncer.core import markers
from syncer.core.keys import WorkKey
from syncer.fleet.registries import (
    PULL_SECRET,
    REGISTRY_CREDENTIALS_KIND,
    image_registry,
    registry_condition,
    resolve_registry_auths,
)
from syncer.fleet.specs import RegistrySpec, parse_tenant_spec
from syncer.kinds.pod_translate import translate_pod_down
from syncer.kinds.registry_credentials import translate_pull_secret
from syncer.kube import Obj
from syncer.kube.apis import NAMESPACES, NODES, PODS, SECRETS
from tests.builders import container, edge_node, namespace, pod, pod_spec, secret

from .harness import SyncTest

SERVER = "registry.local:5000"
REGISTRIES = {"registries": [{"server": SERVER, "credentialsSecretRef": {"name": "reg-a"}}]}


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def basic_auth(name: str, user: str, password: str) -> Obj:
    return {"metadata": {"name": name, "namespace": "fusionvc-system"},
            "type": "kubernetes.io/basic-auth",
            "data": {"username": b64(user), "password": b64(password)}}


def docker_config(name: str, auths: Obj) -> Obj:
    return {"metadata": {"name": name, "namespace": "fusionvc-system"},
            "type": "kubernetes.io/dockerconfigjson",
            "data": {".dockerconfigjson": b64(json.dumps({"auths": auths}))}}


def edge_config(secret_obj: Obj) -> Obj:
    decoded: Obj = json.loads(base64.b64decode(secret_obj["data"][".dockerconfigjson"]))
    return decoded


# ---- parsing and resolution (pure) -------------------------------------------------------


def test_the_spec_lists_registries_with_their_secret() -> None:
    spec = parse_tenant_spec({"registries": [
        {"server": "Registry.Local:5000/", "credentialsSecretRef": {"name": "reg-a"}}]})
    assert spec.registries == (RegistrySpec("registry.local:5000", "reg-a"),)
    assert parse_tenant_spec({}).registries == ()


@pytest.mark.parametrize(("image", "host"), [
    ("registry.local:5000/team/app:1", "registry.local:5000"),
    ("registry.local/app@sha256:abc", "registry.local"),
    ("localhost/app", "localhost"),
    ("nginx:1.27", "docker.io"),
    ("library/nginx", "docker.io"),
    ("index.docker.io/library/nginx", "docker.io"),
    ("REGISTRY.Example.com/app", "registry.example.com"),
])
def test_the_registry_of_an_image_follows_dockers_rule(image: str, host: str) -> None:
    assert image_registry(image) == host


def test_basic_auth_and_docker_config_secrets_both_resolve() -> None:
    secrets = {"reg-a": basic_auth("reg-a", "robot", "s3cret"),
               "reg-b": docker_config("reg-b", {"https://index.docker.io/v1/": {
                   "auth": b64("hub:pw")}, "other.io": {"auth": b64("x:y")}})}
    resolved = resolve_registry_auths(
        (RegistrySpec(SERVER, "reg-a"), RegistrySpec("docker.io", "reg-b")), secrets.get)
    assert resolved.problems == ()
    assert dict(resolved.auths[SERVER]) == {"username": "robot", "password": "s3cret",
                                            "auth": b64("robot:s3cret")}
    assert dict(resolved.auths["docker.io"]) == {"auth": b64("hub:pw")}
    assert "s3cret" not in repr(resolved) and "robot" not in repr(resolved)


def test_a_missing_or_empty_secret_is_a_problem_without_values() -> None:
    secrets = {"wrong": docker_config("wrong", {"elsewhere.io": {"auth": b64("u:topsecret")}})}
    resolved = resolve_registry_auths(
        (RegistrySpec(SERVER, "absent"), RegistrySpec("registry.local", "wrong")), secrets.get)
    assert not resolved.auths
    ctype, status, reason, message = registry_condition(
        (RegistrySpec(SERVER, "absent"),), resolved)
    assert (ctype, status, reason) == ("RegistryCredentials", "False", "CredentialsMissing")
    assert 'Secret "absent" not found' in message and 'Secret "wrong" has no' in message
    assert "topsecret" not in message and b64("u:topsecret") not in message


def test_the_pull_secret_holds_only_the_given_auths() -> None:
    out = translate_pull_secret({SERVER: {"auth": "abc"}}, tenant="tenant-a",
                                edge_namespace="ens")
    assert out["type"] == "kubernetes.io/dockerconfigjson"
    assert out["metadata"]["name"] == PULL_SECRET and out["metadata"]["namespace"] == "ens"
    assert edge_config(out) == {"auths": {SERVER: {"auth": "abc"}}}
    # Not a copy of a tenant Secret: the Secret copies never index, adopt or remove it.
    assert markers.is_managed(out) and not markers.is_managed(out, "tenant-a")
    assert markers.tenant_key_index(out) == []


def test_the_edge_pod_names_the_pull_secret_after_the_tenants_own() -> None:
    tpod = pod("shop", "web", spec=pod_spec(imagePullSecrets=[{"name": "mine"}]))
    epod = translate_pod_down(tpod, tenant="t", edge_namespace="ens", edge_node="n1",
                              virtual_node="vn", pull_secrets=(PULL_SECRET,))
    assert epod["spec"]["imagePullSecrets"] == [{"name": "mine"}, {"name": PULL_SECRET}]
    assert "imagePullSecrets" not in tpod["spec"] or tpod["spec"]["imagePullSecrets"] == [
        {"name": "mine"}]
    plain = translate_pod_down(pod("shop", "web"), tenant="t", edge_namespace="ens",
                               edge_node="n1", virtual_node="vn")
    assert "imagePullSecrets" not in plain["spec"]


# ---- the syncer ---------------------------------------------------------------------------


@pytest.fixture
def fleet() -> Iterator[SyncTest]:
    """tenant-a pulls from registry.local:5000 with credentials; tenant-b has none; one edge."""
    sync = SyncTest()
    a = sync.add_tenant("tenant-a", REGISTRIES)
    a.registry_auths = resolve_registry_auths(
        a.spec.registries, {"reg-a": basic_auth("reg-a", "robot", "s3cret")}.get)
    b = sync.add_tenant("tenant-b")
    for tenant in (a, b):
        sync.put(tenant, NAMESPACES, namespace("shop"))
    sync.put(sync.add_edge(), NODES, edge_node("n1"))
    yield sync
    sync.close()


def registry_pod(name: str, image: str = f"{SERVER}/team/model-server:1") -> Obj:
    return pod("shop", name, spec=pod_spec(containers=[container(image=image)]))


async def test_credentials_reach_the_pods_that_pull_from_the_registry_only(
        fleet: SyncTest) -> None:
    a, b = fleet.ctx.tenants["tenant-a"], fleet.ctx.tenants["tenant-b"]
    edge = fleet.ctx.edges["edge-1"]
    fleet.put(a, PODS, registry_pod("infer"))
    fleet.put(a, PODS, registry_pod("hub", image="nginx:1.27"))
    fleet.put(b, PODS, registry_pod("infer"))  # same registry, no credentials of its own
    await fleet.settle()
    ens_a, ens_b = fleet.edge_ns(), fleet.edge_ns(tenant="tenant-b")
    infer = edge.get(PODS, ens_a, "infer")
    hub = edge.get(PODS, ens_a, "hub")
    b_infer = edge.get(PODS, ens_b, "infer")
    assert infer and hub and b_infer
    assert infer["spec"]["imagePullSecrets"] == [{"name": PULL_SECRET}]
    assert "imagePullSecrets" not in hub["spec"]
    assert "imagePullSecrets" not in b_infer["spec"]
    pull = edge.get(SECRETS, ens_a, PULL_SECRET)
    assert pull is not None
    assert edge_config(pull)["auths"][SERVER]["auth"] == b64("robot:s3cret")
    assert edge.get(SECRETS, ens_b, PULL_SECRET) is None
    # Nothing went to any tenant API: no Secret, no Event naming the credential.
    for tenant in (a, b):
        for call in fleet.client(tenant).writes():
            assert "s3cret" not in json.dumps(call.body) and b64("robot:s3cret") not in \
                json.dumps(call.body)
    # The tenant's own pod is unchanged.
    tpod = a.get(PODS, "shop", "infer")
    assert tpod is not None and "imagePullSecrets" not in tpod["spec"]


async def test_the_pull_secret_survives_its_pods_and_the_secret_copies(fleet: SyncTest) -> None:
    a, edge = fleet.ctx.tenants["tenant-a"], fleet.ctx.edges["edge-1"]
    fleet.put(a, PODS, registry_pod("infer"))
    await fleet.settle()
    ens = fleet.edge_ns()
    fleet.remove(a, PODS, "shop", "infer")
    await fleet.settle()
    assert edge.get(PODS, ens, "infer") is None
    for key in fleet.syncer("Secret").scan(a):  # the Secret copies' drift scan
        fleet.ctx.queue.add(key)
    fleet.ctx.queue.add(WorkKey("tenant-a", "Secret", "shop", PULL_SECRET))
    await fleet.settle()
    assert edge.get(SECRETS, ens, PULL_SECRET) is not None


async def test_changed_then_dropped_credentials_follow_on_the_edge(fleet: SyncTest) -> None:
    a, edge = fleet.ctx.tenants["tenant-a"], fleet.ctx.edges["edge-1"]
    fleet.put(a, PODS, registry_pod("infer"))
    await fleet.settle()
    ens = fleet.edge_ns()
    a.registry_auths = resolve_registry_auths(
        a.spec.registries, {"reg-a": basic_auth("reg-a", "robot", "rotated")}.get)
    fleet.ctx.queue.add(WorkKey("tenant-a", REGISTRY_CREDENTIALS_KIND, "", ""))
    await fleet.settle()
    pull = edge.get(SECRETS, ens, PULL_SECRET)
    assert pull is not None and edge_config(pull)["auths"][SERVER]["password"] == "rotated"
    a.registry_auths = resolve_registry_auths((), {}.get)
    assert set(fleet.syncer(REGISTRY_CREDENTIALS_KIND).scan(a)) == {
        WorkKey("tenant-a", REGISTRY_CREDENTIALS_KIND, "", "")}
    fleet.ctx.queue.add(WorkKey("tenant-a", REGISTRY_CREDENTIALS_KIND, "", ""))
    await fleet.settle()
    assert edge.get(SECRETS, ens, PULL_SECRET) is None


async def test_a_pod_naming_the_reserved_secret_is_never_placed(fleet: SyncTest) -> None:
    a, edge = fleet.ctx.tenants["tenant-a"], fleet.ctx.edges["edge-1"]
    fleet.put(a, SECRETS, secret("shop", PULL_SECRET, {"x": b64("y")}))
    spec = pod_spec(volumes=[{"name": "steal", "secret": {"secretName": PULL_SECRET}}])
    fleet.put(a, PODS, pod("shop", "thief", spec=spec))
    await fleet.settle()
    assert not fleet.client(edge).writes(PODS) and not fleet.client(edge).writes(SECRETS)
    tpod = a.get(PODS, "shop", "thief")
    assert tpod is not None
    cond = tpod["status"]["conditions"][0]
    assert cond["reason"] == "Unschedulable" and f'Secret "{PULL_SECRET}" is reserved' in \
        cond["message"]
