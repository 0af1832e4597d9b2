"""Edge DNS in the sandbox: one ``python -m syncer.edgedns`` per edge cluster.

Addresses are fixed by the topology: edge number i (from 1), tenant number j
(from 1) -> ``127.53.i.j``, the tenant's nameserver on that edge, written into
the EdgeCluster (``spec.dns.tenantNameservers``). The port, the same for every
address of one sandbox, is picked free at ``up``; the upstream is
``127.53.0.1:<port>``, where nothing listens unless a test puts a server there
(the sandbox never forwards names off the machine). Each process reads its edge
with an identity of its own, bound to config/edgedns's read-only ClusterRole.
"""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Any

import yaml

from . import components as comp
from .kubectl import apply_with_retry
from .processes import ProcessRecord, SandboxError, free_ports
from .topology import Topology

REPO = Path(__file__).resolve().parents[2]
USER = "fusionvc-edgedns"
UPSTREAM_HOST = "127.53.0.1"


def plan(topology: Topology) -> dict[str, dict[str, str]]:
    """Edge cluster -> tenant -> nameserver address."""
    tenants = [c.name for c in topology.by_role("tenant")]
    return {
        edge.name: {t: f"127.53.{i}.{j}" for j, t in enumerate(tenants, 1)}
        for i, edge in enumerate(topology.by_role("edge"), 1)
    }


def edge_cluster_dns(addresses: dict[str, str]) -> dict[str, Any]:
    """``spec.dns`` of an EdgeCluster object."""
    return {"clusterDomain": "cluster.local", "tenantNameservers": dict(addresses)}


def free_port_on_all(hosts: list[str]) -> int:
    """A port free for UDP and TCP on every host."""
    return free_ports(1, kinds=(socket.SOCK_DGRAM, socket.SOCK_STREAM), hosts=hosts)[0]


def _rbac(layout: comp.ClusterLayout) -> str:
    role = (REPO / "config/edgedns/rbac.yaml").read_text()
    docs = [d for d in yaml.safe_load_all(role) if d and d["kind"] == "ClusterRole"]
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": f"{USER}-sandbox"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                    "name": docs[0]["metadata"]["name"]},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": USER}],
    }
    return yaml.safe_dump_all([*docs, binding])


def argv(kubeconfig: Path, addresses: dict[str, str], port: int) -> list[str]:
    listen = ",".join(f"{t}={a}:{port}" for t, a in addresses.items())
    return [
        str(REPO / ".venv/bin/python"), "-m", "syncer.edgedns",
        f"--kubeconfig={kubeconfig}", f"--listen={listen}",
        f"--upstream={UPSTREAM_HOST}:{port}", "--upstream-timeout=1", "--log-level=info",
    ]


def start_all(sandbox: Any, layouts: list[comp.ClusterLayout], topology: Topology,
              log: Any) -> list[dict[str, Any]]:
    """Starts the edge DNS processes; returns their entries for state.json."""
    addresses = plan(topology)
    hosts = [a for per in addresses.values() for a in per.values()]
    port = free_port_on_all([*hosts, UPSTREAM_HOST])
    entries, records = [], []
    for lay in layouts:
        if lay.role != "edge":
            continue
        pair = lay.pki.issue("edgedns", USER)
        kubeconfig = lay.kubeconfig("edgedns")
        comp.write_kubeconfig(kubeconfig, comp.kubeconfig_doc(lay.name, lay.url, lay.pki.ca.cert,
                                                              pair, "edgedns"))
        apply_with_retry(lay.kubeconfig(), _rbac(lay), f"{lay.name} edge DNS RBAC")
        rec: ProcessRecord = sandbox._spawn(f"{lay.name}-dns",
                                            argv(kubeconfig, addresses[lay.name], port))
        records.append(rec)
        entries.append({"cluster": lay.name, "process": rec.name, "port": port,
                        "upstream": f"{UPSTREAM_HOST}:{port}",
                        "tenantNameservers": addresses[lay.name], "log": rec.log})
    log(f"sandbox: starting {len(entries)} edge DNS servers on port {port}")
    _wait_listening(entries, records)
    return entries


def _wait_listening(entries: list[dict[str, Any]], records: list[ProcessRecord],
                    timeout: float = 60) -> None:
    """Each edge DNS opens its listeners once its tables are built: wait for TCP accepts."""
    deadline = time.monotonic() + timeout
    for entry, rec in zip(entries, records, strict=True):
        host = next(iter(entry["tenantNameservers"].values()))
        while True:
            try:
                socket.create_connection((host, entry["port"]), timeout=1).close()
                break
            except OSError:
                if not rec.alive():
                    raise SandboxError(f"{rec.name} exited:\n{rec.log_tail()}") from None
                if time.monotonic() > deadline:
                    raise SandboxError(f"{rec.name} not listening after {timeout:.0f}s:\n"
                                       f"{rec.log_tail()}") from None
                time.sleep(0.2)
