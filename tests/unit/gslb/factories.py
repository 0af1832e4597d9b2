"""Plain objects as the management cluster holds them, for the GSLB table tests."""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]


def edge(name: str, latency: dict[str, float], entrance: list[tuple[str, str]],
         ready: str | None = None) -> Obj:
    obj: Obj = {"metadata": {"name": name},
                "spec": {"latencyMs": latency,
                         "entrance": [{"address": a, "carrier": c} for a, c in entrance]}}
    if ready is not None:
        obj["status"] = {"conditions": [{"type": "Ready", "status": ready}]}
    return obj


def record(hostname: str, sites: dict[str, int], tenant: str = "a", created: str = "2026-01-01",
           tolerance: int = 0, answers: int = 1, drained: tuple[str, ...] = ()) -> Obj:
    return {"tenant": tenant, "hostname": hostname, "createdAt": created, "ttl": 30,
            "answers": answers, "toleranceMs": tolerance,
            "sites": [{"cluster": c, "readyReplicas": n, "weight": n, "drained": c in drained}
                      for c, n in sites.items()]}


def tenant(name: str, zones: list[str]) -> Obj:
    return {"metadata": {"name": name}, "spec": {"dns": {"zones": zones}}}


def region(cidr: str, name: str, carrier: str = "") -> Obj:
    return {"metadata": {"name": f"{name}-{carrier}"},
            "spec": {"cidrs": [cidr], "region": name, "carrier": carrier}}


EDGES = [
    edge("bj", {"north": 5, "south": 40}, [("192.0.2.1", "tel"), ("192.0.2.2", "uni")]),
    edge("sh", {"north": 28, "south": 22}, [("192.0.2.11", "uni"), ("2001:db8::11", "uni")]),
    edge("gz", {"north": 40, "south": 6}, [("192.0.2.21", "tel")]),
]
REGIONS = [region("10.1.0.0/16", "north", "tel"), region("10.2.0.0/16", "south", "tel"),
           region("10.3.0.0/16", "south", "uni"), region("10.3.7.0/24", "north", "uni")]
TENANTS = [tenant("a", ["a.example.com"]), tenant("b", ["b.example.com", "a.example.com"])]
