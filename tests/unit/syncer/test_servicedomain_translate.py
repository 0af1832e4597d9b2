"""ServiceDomain claims, sites and records (syncer/kinds/servicedomain_translate.py)."""

from __future__ import annotations

import pytest

from syncer.fleet.tenant_crds import HASH_ANNOTATION, default_dir, load_crds
from syncer.gslb.waterlevel import WaterLevel
from syncer.kinds.servicedomain_translate import (
    Claimant,
    EdgeView,
    claim,
    load_metric,
    pod_ready,
    record,
    site_load,
    sites,
    water_level,
)
from syncer.metricsapi.translate import ContainerUsage, PodUsage

A = Claimant("tenant-a", "default", "api", "2026-01-02T00:00:00Z", ("a.example.com", "shared.net"))
B_OLDER = Claimant("tenant-b", "web", "x", "2026-01-01T00:00:00Z", ("shared.net",))
B_NEWER = Claimant("tenant-b", "web", "x", "2026-01-03T00:00:00Z", ("shared.net",))
B_NO_ZONE = Claimant("tenant-b", "web", "x", "2026-01-01T00:00:00Z", ("b.example.com",))
A_OTHER_NS = Claimant("tenant-a", "other", "api", "2026-01-01T00:00:00Z", ("shared.net",))


@pytest.mark.parametrize(("hostname", "others", "accepted", "reason", "words"), [
    ("api.a.example.com", [], True, "Claimed", ["zone a.example.com"]),
    ("api.shared.net", [B_NEWER], True, "Claimed", []),
    ("api.shared.net", [B_NO_ZONE], True, "Claimed", []),  # b's claim is not valid
    ("api.shared.net", [B_OLDER], False, "HostnameClaimed", ["zone rule 'shared.net'"]),
    ("api.shared.net", [A_OTHER_NS], False, "HostnameClaimed", ["other/api"]),
    ("api.c.example.com", [], False, "HostnameOutsideZones",
     ["a.example.com, shared.net", "Tenant.spec.dns.zones"]),
])
def test_claim(hostname: str, others: list[Claimant], accepted: bool, reason: str,
               words: list[str]) -> None:
    result = claim(hostname, A, others)
    assert (result.accepted, result.reason) == (accepted, reason)
    for word in words:
        assert word in result.message
    assert "tenant-b" not in result.message  # never the other tenant's name


def test_sites_keep_reachable_ready_edges_with_an_entrance() -> None:
    views = [EdgeView("sh", "r2", True, (("192.0.2.2", "uni"),), 2),
             EdgeView("bj", "r1", True, (("192.0.2.1", "tel"),), 3),
             EdgeView("down", "r1", False, (("192.0.2.9", "tel"),), 5),
             EdgeView("idle", "r1", True, (("192.0.2.8", "tel"),), 0),
             EdgeView("noentry", "r1", True, (), 4)]
    got = sites(views, [], None)
    assert [(s["cluster"], s["readyReplicas"], s["weight"], s["drained"], s.get("load"))
            for s in got] == [("bj", 3, 3, False, None), ("sh", 2, 2, False, None)]
    assert "load" not in got[0]  # unknown until the metrics pipeline reports it
    assert got[0]["addresses"] == ["192.0.2.1"]


def test_sites_apply_the_water_level_to_known_load() -> None:
    level = WaterLevel(0.8, 0.6)
    views = [EdgeView("bj", "r1", True, (("192.0.2.1", ""),), 3, load=0.7)]
    assert sites(views, [{"cluster": "bj", "drained": True}], level)[0]["drained"] is True
    assert sites(views, [{"cluster": "bj", "drained": False}], level)[0]["drained"] is False
    unknown = [EdgeView("bj", "r1", True, (("192.0.2.1", ""),), 3)]
    assert sites(unknown, [{"cluster": "bj", "drained": True}], level)[0]["drained"] is False


@pytest.mark.parametrize(("spec", "want"), [
    ({}, None), ({"waterLevel": {"high": 0.8, "low": 0.5}}, WaterLevel(0.8, 0.5)),
    ({"waterLevel": {"high": 0.5, "low": 0.8}}, None), ({"waterLevel": {"high": 1}}, None),
])
def test_water_level(spec: dict[str, object], want: WaterLevel | None) -> None:
    assert water_level(spec) == want


def test_record_carries_what_the_dns_server_needs() -> None:
    sd = {"metadata": {"namespace": "default", "name": "api",
                       "creationTimestamp": "2026-01-01T00:00:00Z"},
          "spec": {"hostname": "api.a.example.com", "service": "web", "ttl": 10, "answers": 2,
                   "latencyToleranceMs": 15}}
    site = sites([EdgeView("bj", "r1", True, (("192.0.2.1", "tel"),), 3)], [], None)
    rec = record("tenant-a", sd, "a.example.com", site, {"bj": (("192.0.2.1", "tel"),)})
    assert rec == {"tenant": "tenant-a", "namespace": "default", "name": "api",
                   "hostname": "api.a.example.com", "zone": "a.example.com",
                   "createdAt": "2026-01-01T00:00:00Z", "ttl": 10, "answers": 2,
                   "toleranceMs": 15,
                   "sites": [{"cluster": "bj", "readyReplicas": 3, "weight": 3,
                              "drained": False,
                              "entrance": [{"address": "192.0.2.1", "carrier": "tel"}]}]}


@pytest.mark.parametrize(("pod", "want"), [
    ({"metadata": {}, "status": {"conditions": [{"type": "Ready", "status": "True"}]}}, True),
    ({"metadata": {}, "status": {"conditions": [{"type": "Ready", "status": "False"}]}}, False),
    ({"metadata": {"deletionTimestamp": "x"},
      "status": {"conditions": [{"type": "Ready", "status": "True"}]}}, False),
    ({"metadata": {}}, False),
])
def test_pod_ready(pod: dict[str, object], want: bool) -> None:
    assert pod_ready(pod) is want


def test_tenant_crds_folder_holds_the_service_domain_crd_with_a_hash() -> None:
    crds = load_crds(default_dir())
    names = [c["metadata"]["name"] for c in crds]
    assert "servicedomains.edge.fusionvc.io" in names
    assert all(c["spec"]["group"] == "edge.fusionvc.io" for c in crds)
    assert all(len(c["metadata"]["annotations"][HASH_ANNOTATION]) == 64 for c in crds)


def _pod(*requests: dict[str, str]) -> dict[str, object]:
    return {"spec": {"containers": [{"name": f"c{i}", "resources": {"requests": r}}
                                    for i, r in enumerate(requests)]}}


def _usage(cpu_milli: int, memory_mib: int = 0) -> PodUsage:
    return PodUsage("2026-01-01T00:00:00Z", "10s",
                    (ContainerUsage("c0", cpu_milli * 1_000_000, memory_mib << 20),))


@pytest.mark.parametrize(("samples", "metric", "want"), [
    ([], "cpu", None),
    ([(_pod({"cpu": "100m"}), None)], "cpu", None),  # not measured yet
    ([(_pod({"memory": "1Gi"}), _usage(50))], "cpu", None),  # no cpu request
    ([(_pod({"cpu": "100m"}), _usage(90))], "cpu", 0.9),
    ([(_pod({"cpu": "100m"}, {"cpu": "100m"}), _usage(50))], "cpu", 0.25),
    ([(_pod({"cpu": "100m"}), _usage(90)), (_pod({"cpu": "300m"}), _usage(10))], "cpu", 0.25),
    ([(_pod({"cpu": "100m"}), _usage(90)), (_pod({}), _usage(900))], "cpu", 0.9),
    ([(_pod({"memory": "100Mi"}), _usage(1, 50))], "memory", 0.5),
    ([(_pod({"cpu": "bogus"}), _usage(90))], "cpu", None),
])
def test_site_load(samples: list[tuple[dict[str, object], PodUsage | None]], metric: str,
                   want: float | None) -> None:
    assert site_load(samples, metric) == want


@pytest.mark.parametrize(("spec", "want"), [
    ({}, "cpu"), ({"waterLevel": {"metric": "memory"}}, "memory"),
    ({"waterLevel": {"metric": "gpu"}}, "cpu"),
])
def test_load_metric(spec: dict[str, object], want: str) -> None:
    assert load_metric(spec) == want


def test_a_loaded_site_drains_and_comes_back_below_low() -> None:
    level = WaterLevel(0.8, 0.5)
    entrance = (("192.0.2.1", ""),)
    previous: list[dict[str, object]] = []
    drained = []
    for load in (0.3, 0.9, 0.7, 0.5, 0.4, 0.85):
        previous = sites([EdgeView("bj", "r1", True, entrance, 2, load=load)], previous, level)
        drained.append(previous[0]["drained"])
        assert previous[0]["load"] == load and previous[0]["weight"] == 2
    assert drained == [False, True, True, True, False, True]
