"""Command lines and kubeconfigs for etcd, kube-apiserver, kube-controller-manager and kwok."""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from . import metrics
from .pki import CertPair, ClusterPKI


@dataclass(frozen=True)
class ClusterLayout:
    """Where one cluster's files live and which ports it uses."""

    name: str
    role: str
    region: str
    port: int
    pki: ClusterPKI
    kubeconfig_dir: Path

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def kubeconfig(self, user: str = "admin") -> Path:
        return self.kubeconfig_dir / (
            f"{self.name}.yaml" if user == "admin" else f"{self.name}-{user}.yaml"
        )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def kubeconfig_doc(cluster: str, url: str, ca: Path, client: CertPair, user: str) -> dict[str, Any]:
    """A self-contained kubeconfig (certificates embedded), fit for a Secret."""
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": cluster,
        "clusters": [
            {
                "name": cluster,
                "cluster": {"server": url, "certificate-authority-data": _b64(ca.read_bytes())},
            }
        ],
        "users": [
            {
                "name": user,
                "user": {
                    "client-certificate-data": _b64(client.cert_pem()),
                    "client-key-data": _b64(client.key_pem()),
                },
            }
        ],
        "contexts": [{"name": cluster, "context": {"cluster": cluster, "user": user}}],
    }


def write_kubeconfig(path: Path, doc: dict[str, Any]) -> None:
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    path.chmod(0o600)


def etcd_argv(bindir: Path, data_dir: Path, client_port: int, peer_port: int) -> list[str]:
    return [
        str(bindir / "etcd"),
        "--name=sandbox",
        f"--data-dir={data_dir}",
        f"--listen-client-urls=http://127.0.0.1:{client_port}",
        f"--advertise-client-urls=http://127.0.0.1:{client_port}",
        f"--listen-peer-urls=http://127.0.0.1:{peer_port}",
        f"--initial-advertise-peer-urls=http://127.0.0.1:{peer_port}",
        f"--initial-cluster=sandbox=http://127.0.0.1:{peer_port}",
        "--unsafe-no-fsync=true",  # a throwaway sandbox: durability is not worth the disk waits
        "--quota-backend-bytes=8589934592",
        "--log-level=warn",
    ]


def apiserver_argv(bindir: Path, layout: ClusterLayout, etcd_url: str,
                   profiling: bool = False) -> list[str]:
    pki = layout.pki
    serving = pki.issue("apiserver", "kube-apiserver", server=True)
    return [
        str(bindir / "kube-apiserver"),
        f"--etcd-servers={etcd_url}",
        f"--etcd-prefix=/clusters/{layout.name}",
        "--bind-address=127.0.0.1",
        f"--secure-port={layout.port}",
        "--advertise-address=127.0.0.1",
        "--endpoint-reconciler-type=none",
        f"--tls-cert-file={serving.cert}",
        f"--tls-private-key-file={serving.key}",
        f"--client-ca-file={pki.ca.cert}",
        "--authorization-mode=RBAC",
        f"--service-account-issuer=https://{layout.name}.sandbox.fusionvc.local",
        f"--service-account-key-file={pki.sa_pub}",
        f"--service-account-signing-key-file={pki.sa_key}",
        "--service-cluster-ip-range=10.96.0.0/16",
        "--allow-privileged=true",
        f"--profiling={str(profiling).lower()}",  # /debug/pprof: hack/bench/apiserver_cpu.py
        "--v=1",
        *metrics.aggregation_flags(pki, layout.name),
    ]


def controller_manager_argv(bindir: Path, layout: ClusterLayout,
                            node_heartbeat_s: float = 10.0) -> list[str]:
    return [
        str(bindir / "kube-controller-manager"),
        f"--kubeconfig={layout.kubeconfig('controller-manager')}",
        "--secure-port=0",
        "--leader-elect=false",
        f"--cluster-name={layout.name}",
        f"--root-ca-file={layout.pki.ca.cert}",
        f"--service-account-private-key-file={layout.pki.sa_key}",
        "--use-service-account-credentials=true",
        # The default 20 requests/s would make a tenant's ReplicaSets, not fusionvc,
        # the bottleneck of every rollout measured here.
        "--kube-api-qps=200",
        "--kube-api-burst=400",
        "--v=1",
        *metrics.tenant_hpa_flags(layout.role),
        *tenant_volume_flags(layout.role),
        *tenant_node_monitor_flags(layout.role, node_heartbeat_s),
    ]


def tenant_node_monitor_flags(role: str, node_heartbeat_s: float) -> list[str]:
    """A tenant's node lifecycle controller allows five Lease renewals of the syncer's virtual
    nodes before it marks one Unknown, as Kubernetes' defaults do (10 s renewal, 50 s grace):
    syncer/kinds/node_heartbeat.py recommended_grace_period_s, docs/performance.md."""
    if role != "tenant":
        return []
    grace = max(50, math.ceil(5 * node_heartbeat_s))
    return [f"--node-monitor-grace-period={grace}s"]


def tenant_volume_flags(role: str) -> list[str]:
    """A tenant's claims are bound on the edge and their status mirrored up by fusionvc
    (syncer/kinds/pvcs.py): the tenant's own binder would reset it to Pending (vcluster
    runs its virtual controller-manager without it too)."""
    if role != "tenant":
        return []
    return ["--controllers=*,-persistentvolume-binder-controller"]


def kwok_argv(bindir: Path, layout: ClusterLayout, cidr: str, server_port: int,
              stages: Path) -> list[str]:
    return [
        str(bindir / "kwok"),
        f"--kubeconfig={layout.kubeconfig('kwok')}",
        "--manage-all-nodes=false",
        "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
        f"--cidr={cidr}",
        "--node-ip=127.0.0.1",
        f"--server-address=127.0.0.1:{server_port}",
        f"--config={stages}",
        *kwok_extra_stages(),
        "--node-lease-duration-seconds=40",
    ]


# ---- sandbox stages of our own (issue 11: the sandbox recovers like real nodes do) -------
KWOK_STAGES = Path(__file__).resolve().parents[2] / "config" / "kwok"


def kwok_extra_stages() -> list[str]:
    """One more --config per stage file in config/kwok/ (kwok's --config is repeatable)."""
    return [f"--config={path}" for path in sorted(KWOK_STAGES.glob("*.yaml"))]
