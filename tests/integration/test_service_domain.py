"""Service domain export end to end: ServiceDomain in a tenant -> GSLB DNS answers.

Real clusters, the real syncer, and the sandbox's GSLB process; DNS queries are sent
with dnspython from distinct 127/8 source addresses that the sandbox maps to user
regions (config/sandbox.yaml, userNetworks), never to any other address.
Sites: edge-bj (127.20.1.1 telecom, 127.20.1.2 unicom), edge-sh (127.20.2.1 unicom),
edge-gz (127.20.3.1 telecom).
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dns.edns
import dns.message
import dns.query
import dns.rcode
import orjson
import pytest

from syncer.gslb.model import RECORD_KEY
from syncer.kinds.servicedomains import record_name

from .kube_helpers import apply, deployment, get_json, items, namespace, running_pods, unique
from .sandbox_fixture import Cluster, SandboxHandle
from .syncer_fixture import SyncerProcess, wait_for

Obj = dict[str, Any]
BJ, SH, GZ = "edge-bj", "edge-sh", "edge-gz"
SITE_OF = {"127.20.1.1": BJ, "127.20.1.2": BJ, "127.20.2.1": SH, "127.20.3.1": GZ}
FROM = {"bj-telecom": "127.10.1.5", "sh-unicom": "127.10.2.5", "gz-telecom": "127.10.3.5",
        "gz-unicom": "127.10.4.5", "nowhere": "127.0.0.1"}
REGION_LABEL = "topology.kubernetes.io/region"
REPLICAS = {BJ: ("cn-beijing", 2), SH: ("cn-shanghai", 1), GZ: ("cn-guangzhou", 1)}


class DNS:
    def __init__(self, port: int) -> None:
        self.port = port

    def query(self, name: str, rdtype: str = "A", source: str = FROM["nowhere"],
              ecs: tuple[str, int] | None = None, tcp: bool = False) -> dns.message.Message:
        options = [dns.edns.ECSOption(*ecs)] if ecs else []
        q = dns.message.make_query(name, rdtype, use_edns=0 if ecs else None, options=options)
        send = dns.query.tcp if tcp else dns.query.udp
        return send(q, "127.0.0.1", port=self.port, source=source, timeout=5)

    def addresses(self, name: str, **kw: Any) -> list[str]:
        return [r.to_text() for rrset in self.query(name, **kw).answer for r in rrset]

    def sites(self, name: str, count: int, **kw: Any) -> Counter[str]:
        return Counter(SITE_OF[a] for _ in range(count) for a in self.addresses(name, **kw))


def service_domain(ns: str, name: str, hostname: str, **spec: Any) -> Obj:
    return {"apiVersion": "edge.fusionvc.io/v1alpha1", "kind": "ServiceDomain",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"service": "web", "hostname": hostname, **spec}}


def site_deployment(ns: str, edge: str, replicas: int) -> Obj:
    region = REPLICAS[edge][0]
    site = edge.removeprefix("edge-")
    return deployment(ns, f"web-{site}", replicas, labels={"app": "web", "site": site},
                      pod_spec={"nodeSelector": {REGION_LABEL: region}})


def status(sandbox: SandboxHandle, tenant: str, ns: str, name: str) -> Obj:
    found: Obj = get_json(sandbox[tenant], "servicedomain", name, "-n", ns).get("status") or {}
    return found


def condition(st: Obj, ctype: str) -> Obj:
    return next((c for c in st.get("conditions") or [] if c["type"] == ctype), {})


@pytest.fixture(scope="module")
def gslb(sandbox: SandboxHandle) -> DNS:
    info = sandbox.status()["gslb"]
    assert info and sandbox.status()["processes"].get("gslb") == "running"
    return DNS(int(info["port"]))


@pytest.fixture(scope="module")
def web(sandbox: SandboxHandle, syncer: SyncerProcess) -> Iterator[str]:
    """tenant-a namespace with Service web: 2 ready pods in edge-bj, 1 in edge-sh, 1 in edge-gz."""
    tenant, ns = sandbox["tenant-a"], unique("gslb")
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": ns},
           "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]}}
    apply(tenant, namespace(ns), svc,
          *(site_deployment(ns, edge, n) for edge, (_, n) in REPLICAS.items()))
    wait_for(lambda: len(running_pods(tenant, ns)) == 4, 180, "4 web pods running")
    yield ns
    tenant.kubectl("delete", "namespace", ns, "--wait=false")


def exported(sandbox: SandboxHandle, gslb: DNS, ns: str, name: str, hostname: str,
             sites: int = 3, tenant: str = "tenant-a", **spec: Any) -> None:
    apply(sandbox[tenant], service_domain(ns, name, hostname, **spec))
    wait_for(lambda: status(sandbox, tenant, ns, name).get("siteCount") == sites, 60,
             f"{hostname}: {sites} sites in status")
    wait_for(lambda: gslb.addresses(hostname), 30, f"{hostname} answered")


def test_tenant_crd_installed_in_every_tenant(sandbox: SandboxHandle,
                                             syncer: SyncerProcess) -> None:
    for tenant in ("tenant-a", "tenant-b"):
        wait_for(lambda t=tenant: sandbox[t].kubectl(  # type: ignore[misc]
            "get", "crd", "servicedomains.edge.fusionvc.io", check=False).returncode == 0,
            60, f"ServiceDomain CRD in {tenant}")
        crd = get_json(sandbox[tenant], "crd", "servicedomains.edge.fusionvc.io")
        assert "fusionvc.io/manifest-sha256" in crd["metadata"]["annotations"]


def test_each_region_gets_its_nearest_site(sandbox: SandboxHandle, gslb: DNS, web: str) -> None:
    host = f"{unique('near')}.a.example.com"
    exported(sandbox, gslb, web, "near", host)
    st = status(sandbox, "tenant-a", web, "near")
    assert {s["cluster"]: s["readyReplicas"] for s in st["sites"]} == {BJ: 2, SH: 1, GZ: 1}
    assert all(s["weight"] == s["readyReplicas"] and s["drained"] is False for s in st["sites"])
    assert condition(st, "Accepted")["status"] == "True"
    header, row = sandbox["tenant-a"].kubectl("get", "servicedomain", "near", "-n",
                                              web).stdout.splitlines()[:2]
    assert header.split()[:3] == ["NAME", "HOSTNAME", "SERVICE"] and "SITES" in header
    assert host in row and row.split()[3] == "3"
    expected = {"bj-telecom": ["127.20.1.1"], "sh-unicom": ["127.20.2.1"],
                "gz-telecom": ["127.20.3.1"], "gz-unicom": ["127.20.3.1"]}
    for client, want in expected.items():
        # The status is written just before the record, and the GSLB compiles the record's
        # new version 50 ms after its watch event: the first answers may lag the status.
        wait_for(lambda c=client, w=want: gslb.addresses(  # type: ignore[misc]
            host, source=FROM[c]) == w, 10, f"{client}: {want}")
        for _ in range(5):
            assert gslb.addresses(host, source=FROM[client]) == want, client


def _scale_and_measure(sandbox: SandboxHandle, gslb: DNS, ns: str, host: str,
                       want: dict[str, int]) -> float:
    """Scales edge-sh to want[SH]; seconds from all its pods ready to the new split served."""
    tenant = sandbox["tenant-a"]
    tenant.kubectl("-n", ns, "scale", "deployment", "web-sh", f"--replicas={want[SH]}")
    wait_for(lambda: len(running_pods(tenant, ns, "site=sh")) == want[SH], 180,
             f"{want[SH]} web-sh pods running")
    ready_at = time.monotonic()
    total = sum(want.values())
    wait_for(lambda: gslb.sites(host, total) == Counter(want), 60, f"split {want}", every=0.2)
    return time.monotonic() - ready_at


def test_split_follows_ready_replicas(sandbox: SandboxHandle, gslb: DNS, web: str) -> None:
    host = f"{unique('split')}.a.example.com"
    ttl = 30
    exported(sandbox, gslb, web, "split", host, latencyToleranceMs=1000, ttl=ttl)
    assert gslb.sites(host, 400) == Counter({BJ: 200, SH: 100, GZ: 100})
    try:
        seconds = _scale_and_measure(sandbox, gslb, web, host, {BJ: 2, SH: 3, GZ: 1})
        print(f"\nweights served {seconds:.2f}s after the replicas were running")
        assert seconds < ttl
        assert gslb.sites(host, 600) == Counter({BJ: 200, SH: 300, GZ: 100})
    finally:
        sandbox["tenant-a"].kubectl("-n", web, "scale", "deployment", "web-sh", "--replicas=1")
        wait_for(lambda: len(running_pods(sandbox["tenant-a"], web, "site=sh")) == 1, 180,
                 "web-sh back to 1")


def test_client_subnet_from_localhost_picks_the_subnets_region(sandbox: SandboxHandle,
                                                                gslb: DNS, web: str) -> None:
    host = f"{unique('ecs')}.a.example.com"
    exported(sandbox, gslb, web, "ecs", host)
    reply = gslb.query(host, source="127.0.0.1", ecs=("127.10.3.0", 24))
    assert [r.to_text() for rr in reply.answer for r in rr] == ["127.20.3.1"]
    (option,) = reply.options
    assert isinstance(option, dns.edns.ECSOption)
    assert (option.address, option.srclen, option.scopelen) == ("127.10.3.0", 24, 24)
    for _ in range(5):  # the subnet, not the source address, decides
        assert gslb.addresses(host, source="127.10.1.5", ecs=("127.10.2.0", 24)) == ["127.20.2.1"]


def test_carrier_match_wins_among_equally_near_sites(sandbox: SandboxHandle, gslb: DNS,
                                                     web: str) -> None:
    host = f"{unique('carrier')}.a.example.com"
    # From cn-guangzhou, edge-gz (6 ms) and edge-sh (22 ms) are within 20 ms of each other.
    exported(sandbox, gslb, web, "carrier", host, latencyToleranceMs=20)
    assert gslb.sites(host, 20, source=FROM["gz-telecom"]) == Counter({GZ: 20})
    assert gslb.sites(host, 20, source=FROM["gz-unicom"]) == Counter({SH: 20})
    assert set(gslb.addresses(host, source=FROM["gz-unicom"])) == {"127.20.2.1"}


def test_tcp_answers(sandbox: SandboxHandle, gslb: DNS, web: str) -> None:
    host = f"{unique('tcp')}.a.example.com"
    exported(sandbox, gslb, web, "tcp", host)
    assert gslb.addresses(host, source=FROM["bj-telecom"], tcp=True) == ["127.20.1.1"]


def test_nxdomain_and_refused_outside_the_zones(sandbox: SandboxHandle, gslb: DNS,
                                                web: str) -> None:
    missing = gslb.query(f"{unique('nope')}.a.example.com", source=FROM["bj-telecom"])
    assert missing.rcode() == dns.rcode.NXDOMAIN
    assert missing.authority and missing.authority[0].name.to_text() == "a.example.com."
    assert gslb.query("www.example.org", source=FROM["bj-telecom"]).rcode() == dns.rcode.REFUSED
    assert gslb.query("example.com", source=FROM["bj-telecom"]).rcode() == dns.rcode.REFUSED
    soa = gslb.query("a.example.com", "SOA", source=FROM["bj-telecom"])
    assert soa.rcode() == dns.rcode.NOERROR and soa.answer[0][0].rdtype == 6


def test_another_tenants_claim_is_refused(sandbox: SandboxHandle, gslb: DNS, web: str) -> None:
    host = f"{unique('claim')}.shared.example.net"
    exported(sandbox, gslb, web, "claim", host)
    b, ns = sandbox["tenant-b"], unique("claim")
    apply(b, namespace(ns), service_domain(ns, "mine", host),
          service_domain(ns, "outside", f"x.{unique('o')}.a.example.com"))
    refused = wait_for(lambda: condition(status(sandbox, "tenant-b", ns, "mine"),
                                         "Accepted").get("reason") == "HostnameClaimed"
                       and status(sandbox, "tenant-b", ns, "mine"), 60, "claim refused")
    message = condition(refused, "Accepted")["message"]
    assert "'shared.example.net'" in message and "tenant-a" not in message
    assert condition(refused, "Accepted")["status"] == "False"
    outside = wait_for(lambda: condition(status(sandbox, "tenant-b", ns, "outside"),
                                         "Accepted").get("reason"), 60, "outside refused")
    assert outside == "HostnameOutsideZones"
    events = wait_for(lambda: [e for e in items(b, "events", "-n", ns)
                               if e["reason"] == "HostnameClaimed"], 60, "an Event in tenant-b")
    assert "tenant-a" not in events[0]["message"]
    for _ in range(10):  # tenant-a keeps the name
        assert set(gslb.addresses(host)) <= {"127.20.1.1", "127.20.1.2", "127.20.2.1",
                                             "127.20.3.1"}
    b.kubectl("delete", "namespace", ns, "--wait=false")


USAGE_CPU = "kwok.x-k8s.io/usage-cpu"  # kwok's simulated usage, read by the edge metrics-server


def hot_deployment(ns: str, edge: str, cpu_used: str) -> Obj:
    site = edge.removeprefix("edge-")
    dep = deployment(ns, f"hot-{site}", 1, labels={"app": "hot", "hot": site},
                     pod_spec={"nodeSelector": {REGION_LABEL: REPLICAS[edge][0]}},
                     container={"resources": {"requests": {"cpu": "100m"}}})
    dep["spec"]["template"]["metadata"]["annotations"] = {USAGE_CPU: cpu_used}
    return dep


def near(load: float | None, want: float) -> bool:
    """metrics-server derives cpu from counters: allow its rounding."""
    return load is not None and abs(load - want) <= 0.03


def site_status(sandbox: SandboxHandle, ns: str, name: str, cluster: str) -> Obj:
    return next((s for s in status(sandbox, "tenant-a", ns, name).get("sites") or []
                 if s["cluster"] == cluster), {})


def test_a_loaded_site_is_drained_until_its_load_falls_below_low(
        sandbox: SandboxHandle, gslb: DNS, web: str) -> None:
    """Load = used / requested cpu of a site's ready pods, from the edge metrics-server."""
    tenant, host = sandbox["tenant-a"], f"{unique('load')}.a.example.com"
    hot = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "hot", "namespace": web},
           "spec": {"selector": {"app": "hot"}, "ports": [{"port": 80}]}}
    apply(tenant, hot, hot_deployment(web, BJ, "10m"), hot_deployment(web, SH, "10m"))
    wait_for(lambda: len(running_pods(tenant, web, "app=hot")) == 2, 180, "2 hot pods running")
    exported(sandbox, gslb, web, "load", host, sites=2, service="hot", latencyToleranceMs=1000,
             waterLevel={"metric": "cpu", "high": 0.8, "low": 0.5})
    wait_for(lambda: near(site_status(sandbox, web, "load", BJ).get("load"), 0.1), 120,
             "edge-bj load 0.1 in status (10m of 100m)")
    assert gslb.sites(host, 20) == Counter({BJ: 10, SH: 10})

    tenant.kubectl("annotate", "pods", "-n", web, "-l", "app=hot,hot=bj", f"{USAGE_CPU}=95m",
                   "--overwrite")
    drained = wait_for(lambda: (s := site_status(sandbox, web, "load", BJ)).get("drained")
                       and s, 120, "edge-bj drained above high (0.8)")
    assert drained["load"] > 0.8 and drained["weight"] == 1
    wait_for(lambda: gslb.sites(host, 20) == Counter({SH: 20}), 30, "only edge-sh answered")

    tenant.kubectl("annotate", "pods", "-n", web, "-l", "app=hot,hot=bj", f"{USAGE_CPU}=60m",
                   "--overwrite")  # below high, above low: stays drained (hysteresis)
    wait_for(lambda: near(site_status(sandbox, web, "load", BJ).get("load"), 0.6), 120,
             "edge-bj load 0.6")
    assert site_status(sandbox, web, "load", BJ)["drained"] is True
    assert gslb.sites(host, 20) == Counter({SH: 20})

    tenant.kubectl("annotate", "pods", "-n", web, "-l", "app=hot,hot=bj", f"{USAGE_CPU}=20m",
                   "--overwrite")
    wait_for(lambda: site_status(sandbox, web, "load", BJ).get("drained") is False, 120,
             "edge-bj back below low (0.5)")
    wait_for(lambda: gslb.sites(host, 20) == Counter({BJ: 10, SH: 10}), 30,
             "edge-bj answered again")


def test_stopping_an_edge_api_server_removes_its_site(sandbox: SandboxHandle, gslb: DNS,
                                                      web: str) -> None:
    host = f"{unique('outage')}.a.example.com"
    exported(sandbox, gslb, web, "outage", host, latencyToleranceMs=1000)
    assert gslb.sites(host, 40)[GZ] == 10
    sandbox.run("stop", "edge-gz-apiserver")
    try:
        stopped = time.monotonic()
        wait_for(lambda: GZ not in gslb.sites(host, 12), 60, "edge-gz out of the answers",
                 every=0.2)
        print(f"\nedge-gz left the answers {time.monotonic() - stopped:.1f}s after its "
              "API server stopped")
        assert gslb.sites(host, 300) == Counter({BJ: 200, SH: 100})
        wait_for(lambda: GZ not in {s["cluster"] for s in status(
            sandbox, "tenant-a", web, "outage")["sites"]}, 60, "edge-gz out of the status")
    finally:
        sandbox.run("start", "edge-gz-apiserver")
    wait_for(lambda: GZ in gslb.sites(host, 12), 120, "edge-gz back in the answers")


def test_a_service_domain_deleted_while_no_syncer_ran_leaves_the_answers(
        sandbox: SandboxHandle, gslb: DNS, web: str, syncer: SyncerProcess) -> None:
    host = f"{unique('stale')}.a.example.com"
    exported(sandbox, gslb, web, "stale", host)
    syncer.stop()
    try:
        sandbox["tenant-a"].kubectl("-n", web, "delete", "servicedomain", "stale")
        assert gslb.addresses(host)  # nobody has removed its record yet
    finally:
        syncer.start()
    wait_for(lambda: gslb.query(host).rcode() == dns.rcode.NXDOMAIN, 90,
             "the stale record swept (drift scan every 10 s)")


def test_keeps_serving_its_last_table_without_the_management_cluster(
        sandbox: SandboxHandle, gslb: DNS, web: str, syncer: SyncerProcess) -> None:
    host = f"{unique('mgmt')}.a.example.com"
    exported(sandbox, gslb, web, "mgmt", host)
    sandbox.run("stop", "management-apiserver")
    try:
        until = time.monotonic() + 8
        while time.monotonic() < until:
            assert gslb.addresses(host, source=FROM["sh-unicom"]) == ["127.20.2.1"]
            time.sleep(0.5)
    finally:
        sandbox.run("start", "management-apiserver")
    wait_for(lambda: sandbox["management"].kubectl("get", "--raw", "/readyz",
                                                   check=False).returncode == 0, 120,
             "management API server back")
    if syncer.proc is not None and syncer.proc.poll() is not None:
        syncer.start()  # the leader exits when it cannot renew its Lease; start it again
    assert gslb.addresses(host, source=FROM["sh-unicom"]) == ["127.20.2.1"]


def watched_versions(cluster: Cluster, *args: str) -> tuple[subprocess.Popen[str], Path]:
    """``kubectl get -w -o json``: every version of one object, written to a file."""
    out = Path(tempfile.mkstemp(suffix=".json")[1])
    with out.open("w") as sink:
        proc = subprocess.Popen(["kubectl", f"--kubeconfig={cluster.kubeconfig}", "get", *args,
                                 "-w", "-o", "json"], stdout=sink, text=True)
    return proc, out


def versions_in(proc: subprocess.Popen[str], out: Path) -> list[Obj]:
    proc.terminate()
    proc.wait(10)
    text, found, decoder, at = out.read_text(), [], json.JSONDecoder(), 0
    out.unlink()
    while at < len(text):  # one JSON object per version, separated by newlines
        if text[at].isspace():
            at += 1
            continue
        obj, at = decoder.raw_decode(text, at)
        found.append(obj)
    return found


def test_a_restarted_syncer_republishes_no_partial_record(
        sandbox: SandboxHandle, gslb: DNS, web: str, syncer: SyncerProcess) -> None:
    """A restarted leader connects tenants and edges in no fixed order; with a tenant
    connected before the edges it once saw no ready pod anywhere and published a record
    without sites, and the GSLB answered nothing until the edges caught up."""
    host = f"{unique('restart')}.a.example.com"
    exported(sandbox, gslb, web, "restart", host)
    record = record_name("tenant-a", web, "restart")
    watches = [watched_versions(sandbox["management"], "configmap", record,
                                "-n", "fusionvc-system"),
               watched_versions(sandbox["tenant-a"], "servicedomain", "restart", "-n", web)]
    time.sleep(1)  # both watches listed
    syncer.stop()
    syncer.start()
    time.sleep(5)  # the new leader reconciled every ServiceDomain at least once
    for proc, out in watches:
        for version in versions_in(proc, out):
            if version["kind"] == "ConfigMap":
                sites = orjson.loads(version["data"][RECORD_KEY])["sites"]
                assert len(sites) == 3, version["data"]
            else:
                assert version["status"]["siteCount"] == 3, version["status"]
    assert len(gslb.addresses(host, source=FROM["sh-unicom"])) == 1


def test_metrics_count_the_answers(sandbox: SandboxHandle, gslb: DNS, web: str) -> None:
    host = f"{unique('metrics')}.a.example.com"
    exported(sandbox, gslb, web, "metrics", host)
    url = sandbox.status()["gslb"]["metrics"]

    def answers(kind: str) -> float:
        text = urllib.request.urlopen(url, timeout=10).read().decode()
        return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                   if line.startswith("fusionvc_gslb_answers_total{") and f'kind="{kind}"' in line)

    before_answer, before_nx = answers("answer"), answers("nxdomain")
    for _ in range(5):
        gslb.addresses(host, source=FROM["bj-telecom"])
    gslb.query(f"{unique('nope')}.a.example.com", source=FROM["bj-telecom"])
    assert answers("answer") >= before_answer + 5
    assert answers("nxdomain") >= before_nx + 1
    text = urllib.request.urlopen(url, timeout=10).read().decode()
    hosts = next(float(line.split()[1]) for line in text.splitlines()
                 if line.startswith("fusionvc_gslb_hosts "))
    assert hosts >= 1
    ready = urllib.request.urlopen(url.replace("/metrics", "/readyz"), timeout=10)
    assert ready.status == 200
