"""Edge objects as fusionvc and the edge's controller-manager write them."""

from __future__ import annotations

from typing import Any

from syncer.core import markers

Obj = dict[str, Any]


def edge_ns(name: str, tenant: str, tenant_ns: str) -> Obj:
    return {"metadata": {"name": name, "labels": markers.marker_labels(tenant),
                         "annotations": {markers.TENANT_NAME: tenant_ns}}}


def service(ns: str, name: str, tenant: str, cluster_ip: str = "10.96.0.10",
            ports: tuple[tuple[str, int], ...] = (("http", 80),), **spec: Any) -> Obj:
    ips = [] if cluster_ip == "None" else cluster_ip.split(",")
    return {"metadata": {"namespace": ns, "name": name, "labels": markers.marker_labels(tenant)},
            "spec": {"clusterIP": cluster_ip, "clusterIPs": ips or ["None"],
                     "ports": [{"name": n, "port": p, "protocol": "TCP"} for n, p in ports],
                     **spec}}


def endpoint_slice(ns: str, svc: str, endpoints: list[tuple[str | None, str, bool]],
                   port: tuple[str, int] = ("http", 8080)) -> Obj:
    return {"metadata": {"namespace": ns, "name": f"{svc}-abcde",
                         "labels": {"kubernetes.io/service-name": svc}},
            "addressType": "IPv4",
            "ports": [{"name": port[0], "port": port[1], "protocol": "TCP"}],
            "endpoints": [{"addresses": [ip], "conditions": {"ready": ready},
                           **({"hostname": host} if host else {})}
                          for host, ip, ready in endpoints]}


def pod(ns: str, name: str, tenant: str, ip: str) -> Obj:
    return {"metadata": {"namespace": ns, "name": name, "labels": markers.marker_labels(tenant)},
            "status": {"podIP": ip, "podIPs": [{"ip": ip}]}}
