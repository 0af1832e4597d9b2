"""Edge DNS on real clusters: tenant names inside edge pods resolve to the same edge's copies.

Every query goes from 127.0.0.1 to the nameserver written into an edge pod's
dnsConfig (a 127.53.x.y address of the sandbox), applying that pod's search
list and ndots. Pod IPs (10.x) are only compared as data: nothing is sent there.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.resolver
import dns.rrset
import pytest

from .kube_helpers import (
    HARDENED,
    HARDENED_CONTAINER,
    apply,
    deployment,
    edge_ns,
    get_json,
    items,
    namespace,
    unique,
    wait_controllers_caught_up,
)
from .sandbox_fixture import SandboxHandle
from .syncer_fixture import SyncerProcess, wait_for

EDGE = "edge-bj"
KNOWN_UPSTREAM = "www.example.org."
UPSTREAM_ADDRESS = "192.0.2.7"
PIN = {"nodeSelector": {"fusionvc.io/edge-cluster": EDGE}}
Obj = dict[str, Any]


def service(ns: str, name: str, headless: bool = False) -> Obj:
    spec: Obj = {"selector": {"app": name},
                 "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}]}
    if headless:
        spec["clusterIP"] = "None"
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns},
            "spec": spec}


def statefulset(ns: str, name: str, replicas: int) -> Obj:
    container = {"name": "main", "image": "registry.local/app:1",
                 "resources": {"requests": {"cpu": "50m", "memory": "32Mi"}},
                 **HARDENED_CONTAINER}
    return {"apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"replicas": replicas, "serviceName": name,
                     "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {**HARDENED, **PIN, "containers": [container]}}}}


@dataclass
class Scene:
    sandbox: SandboxHandle
    shop: str  # tenant namespaces (tenant-a); tenant-b has a namespace named like shop too
    other: str
    port: int

    def ens(self, tenant: str, ns: str) -> str:
        return edge_ns(self.sandbox, tenant, ns)

    def edge_pod(self, tenant: str, ns: str, app: str) -> Obj:
        pods = items(self.sandbox[EDGE], "pods", "-n", self.ens(tenant, ns), "-l", f"app={app}")
        return pods[0]

    def resolver(self, tenant: str, ns: str, app: str = "client") -> dns.resolver.Resolver:
        """A resolver configured as the edge pod's resolv.conf would be."""
        config = self.edge_pod(tenant, ns, app)["spec"]["dnsConfig"]
        res = dns.resolver.Resolver(configure=False)
        res.nameservers = list(config["nameservers"])
        res.port = self.port
        res.search = [dns.name.from_text(s) for s in config["searches"]]
        res.use_search_by_default = True
        res.ndots = int(next(o["value"] for o in config["options"] if o["name"] == "ndots"))
        res.lifetime, res.timeout = 5.0, 2.0
        return res

    def cluster_ips(self, tenant: str, ns: str, name: str) -> list[str]:
        svc = get_json(self.sandbox[EDGE], "service", name, "-n", self.ens(tenant, ns))
        return list(svc["spec"]["clusterIPs"])


def lookup(res: dns.resolver.Resolver, name: str, rdtype: str = "A") -> list[str]:
    answer = res.resolve(name, rdtype, source="127.0.0.1", raise_on_no_answer=False)
    return sorted(rd.to_text() for rd in answer)


def rcode(res: dns.resolver.Resolver, name: str) -> str:
    query = dns.message.make_query(name, "A")
    reply = dns.query.udp(query, str(res.nameservers[0]), timeout=3, port=res.port,
                          source="127.0.0.1")
    return dns.rcode.to_text(reply.rcode())


def _dns_entry(sandbox: SandboxHandle, edge: str) -> Obj:
    entry: Obj = next(e for e in sandbox.status()["edgeDns"] if e["cluster"] == edge)
    return entry


@pytest.fixture(scope="module")
def scene(sandbox: SandboxHandle, syncer: SyncerProcess) -> Iterator[Scene]:
    shop, other = unique("shop"), unique("other")
    a, b = sandbox["tenant-a"], sandbox["tenant-b"]
    apply(a, namespace(shop), namespace(other))
    apply(b, namespace(shop))
    apply(a, deployment(shop, "client", 1, pod_spec=PIN), deployment(shop, "api", 2, pod_spec=PIN),
          service(shop, "api"), statefulset(shop, "web", 2), service(shop, "web", headless=True),
          deployment(other, "api", 1, pod_spec=PIN), service(other, "api"))
    apply(b, deployment(shop, "client", 1, pod_spec=PIN))
    scene = Scene(sandbox, shop, other, _dns_entry(sandbox, EDGE)["port"])
    host, port = _dns_entry(sandbox, EDGE)["upstream"].split(":")

    def ready() -> bool:
        try:
            ep = items(sandbox[EDGE], "endpointslices", "-n", scene.ens("tenant-a", shop),
                       "-l", "kubernetes.io/service-name=web")
            ready_ips = [e for s in ep for e in s.get("endpoints") or []
                         if (e.get("conditions") or {}).get("ready")]
            scene.cluster_ips("tenant-a", other, "api")
            scene.edge_pod("tenant-b", shop, "client")
            return len(ready_ips) == 2
        except Exception:
            return False

    wait_for(ready, 180, "tenant pods, Services and endpoints on the edge", every=2)
    with _upstream(host, int(port), UPSTREAM_ADDRESS):
        yield scene
    for tenant in (a, b):
        tenant.kubectl("delete", "namespace", shop, other, "--wait=false", check=False)


def test_edge_pod_points_at_its_tenants_edge_dns(scene: Scene) -> None:
    spec = scene.edge_pod("tenant-a", scene.shop, "client")["spec"]
    want = _dns_entry(scene.sandbox, EDGE)["tenantNameservers"]["tenant-a"]
    assert spec["dnsPolicy"] == "None"
    assert spec["dnsConfig"]["nameservers"] == [want]
    assert spec["dnsConfig"]["searches"] == [f"{scene.shop}.svc.cluster.local",
                                             "svc.cluster.local", "cluster.local"]
    assert {"name": "ndots", "value": "5"} in spec["dnsConfig"]["options"]


def test_names_resolve_to_the_same_edge_copies(scene: Scene) -> None:
    res = scene.resolver("tenant-a", scene.shop)
    shop_api = scene.cluster_ips("tenant-a", scene.shop, "api")
    assert lookup(res, "api") == shop_api
    assert lookup(res, f"api.{scene.other}") == scene.cluster_ips("tenant-a", scene.other, "api")
    assert lookup(res, f"api.{scene.shop}.svc.cluster.local.") == shop_api
    assert lookup(res, "_http._tcp.api", "SRV") == [
        f"0 100 80 api.{scene.shop}.svc.cluster.local."]


def test_headless_service_gives_ready_pod_ips(scene: Scene) -> None:
    res = scene.resolver("tenant-a", scene.shop)
    pods = items(scene.sandbox[EDGE], "pods", "-n", scene.ens("tenant-a", scene.shop),
                 "-l", "app=web")
    ips = {p["metadata"]["name"]: p["status"]["podIP"] for p in pods}  # data only: never dialled
    assert lookup(res, "web") == sorted(ips.values())
    assert lookup(res, "web-0.web") == [ips["web-0"]]
    srv = lookup(res, "_http._tcp.web", "SRV")
    assert srv == sorted(f"0 100 8080 web-{i}.web.{scene.shop}.svc.cluster.local." for i in (0, 1))


def test_other_tenant_gets_nxdomain(scene: Scene) -> None:
    res_b = scene.resolver("tenant-b", scene.shop)
    assert res_b.nameservers != scene.resolver("tenant-a", scene.shop).nameservers
    assert rcode(res_b, f"api.{scene.shop}.svc.cluster.local.") == "NXDOMAIN"
    assert rcode(res_b, f"api.{scene.other}.svc.cluster.local.") == "NXDOMAIN"
    with pytest.raises(dns.resolver.NXDOMAIN):
        lookup(res_b, "api")


def test_names_outside_the_cluster_domain_are_forwarded(scene: Scene) -> None:
    res = scene.resolver("tenant-a", scene.shop)
    assert lookup(res, KNOWN_UPSTREAM) == [UPSTREAM_ADDRESS]
    assert rcode(res, "nothing.example.org.") == "NXDOMAIN"


def test_deleted_service_becomes_nxdomain(scene: Scene) -> None:
    res = scene.resolver("tenant-a", scene.shop)
    name = f"api.{scene.other}.svc.cluster.local."
    assert rcode(res, name) == "NOERROR"
    scene.sandbox["tenant-a"].kubectl("delete", "service", "api", "-n", scene.other)
    wait_for(lambda: rcode(res, name) == "NXDOMAIN", 20, "NXDOMAIN after delete", every=0.2)


def test_another_edge_down_changes_nothing(scene: Scene) -> None:
    res = scene.resolver("tenant-a", scene.shop)
    before = lookup(res, "api"), lookup(res, "web")
    scene.sandbox.run("stop", "edge-sh-apiserver")
    try:
        assert (lookup(res, "api"), lookup(res, "web")) == before
    finally:
        scene.sandbox.run("start", "edge-sh-apiserver")


def test_centre_down_changes_nothing(scene: Scene, syncer: SyncerProcess) -> None:
    res = scene.resolver("tenant-a", scene.shop)
    res_b = scene.resolver("tenant-b", scene.shop)
    names = ("api", "web", "web-1.web", f"api.{scene.shop}.svc.cluster.local.")
    before = [lookup(res, n) for n in names], lookup(res, "_http._tcp.api", "SRV")
    centre = ("management-apiserver", "tenant-a-apiserver", "tenant-b-apiserver")
    syncer.stop()  # it would lose its Lease with the management apiserver
    for name in centre:
        scene.sandbox.run("stop", name)
    try:
        after = [lookup(res, n) for n in names], lookup(res, "_http._tcp.api", "SRV")
        assert after == before
        assert rcode(res_b, f"api.{scene.shop}.svc.cluster.local.") == "NXDOMAIN"
    finally:
        for name in centre:
            scene.sandbox.run("start", name)
        syncer.start()
        for tenant in ("tenant-a", "tenant-b"):
            wait_controllers_caught_up(scene.sandbox[tenant])


@contextmanager
def _upstream(host: str, port: int, address: str) -> Iterator[None]:
    """A real UDP nameserver on a 127.x address: www.example.org. has ``address``, every
    other name is NXDOMAIN (as the edge's own resolver would say)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((host, port))
    sock.settimeout(0.2)
    stopped = threading.Event()

    def serve() -> None:
        while not stopped.is_set():
            try:
                data, addr = sock.recvfrom(4096)
            except TimeoutError:
                continue
            query = dns.message.from_wire(data)
            reply = dns.message.make_response(query)
            if query.question[0].name == dns.name.from_text(KNOWN_UPSTREAM):
                reply.answer.append(dns.rrset.from_text(KNOWN_UPSTREAM, 30, "IN", "A", address))
            else:
                reply.set_rcode(dns.rcode.NXDOMAIN)
            sock.sendto(reply.to_wire(), addr)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stopped.set()
        thread.join(5)
        sock.close()
