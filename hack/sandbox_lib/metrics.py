"""Resource metrics in the sandbox: aggregation flags, kwok usage, metrics-server, fusionvc's API.

- Every kube-apiserver gets the aggregation-layer flags (its own front-proxy CA,
  requestheader settings, a proxy-client certificate), so an APIService can be
  registered in it.
- kwok serves simulated kubelet resource metrics (``Metric``) whose usage follows
  the pod annotations ``kwok.x-k8s.io/usage-cpu|memory`` (``ClusterResourceUsage``),
  on its own port on 127.0.0.1; every edge node points there (InternalIP 127.0.0.1,
  kubelet port = kwok's port, annotation ``metrics.k8s.io/resource-metrics-path``).
- kwok also simulates the pods' own metrics (``http_requests_per_second`` from the
  annotation ``sandbox.fusionvc.io/http-requests-per-second``) on
  ``/metrics/nodes/<node>/metrics/pods`` (node annotation
  ``metrics.fusionvc.io/pod-metrics-path``), which syncer/podmetrics scrapes.
- One metrics-server per edge cluster scrapes those nodes through InternalIP only
  (never a pod IP) and is registered in its edge as ``v1beta1.metrics.k8s.io`` via an
  ExternalName Service (``localhost``: the aggregator resolves it to localhost:port).
- Tenant controller-managers sync HPAs every 5 s and stabilise downscales over 20 s
  (defaults 15 s and 5 min), so the HPA tests finish in minutes.
- The syncer's metrics API (syncer/metricsapi) gets a serving certificate.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from .pki import CertPair, ClusterPKI

METRICS_PATH_ANNOTATION = "metrics.k8s.io/resource-metrics-path"
# Pods' own metrics (syncer/podmetrics scrapes them; custom metrics and delivery).
POD_METRICS_PATH_ANNOTATION = "metrics.fusionvc.io/pod-metrics-path"
# A pod's simulated application metric http_requests_per_second follows this annotation.
REQUESTS_ANNOTATION = "sandbox.fusionvc.io/http-requests-per-second"
FRONT_PROXY_CLIENT = "front-proxy-client"
HPA_SYNC_PERIOD = "5s"
HPA_DOWNSCALE_STABILIZATION = "20s"
METRIC_RESOLUTION = "15s"


def front_proxy_pki(cluster_pki: ClusterPKI, cluster: str) -> tuple[ClusterPKI, CertPair]:
    """The cluster's own front-proxy CA (distinct from its client CA) and proxy-client cert."""
    pki = ClusterPKI(cluster_pki.folder / "front-proxy")
    pki.ensure_ca(f"{cluster}-front-proxy")
    return pki, pki.issue("proxy-client", FRONT_PROXY_CLIENT)


def aggregation_flags(cluster_pki: ClusterPKI, cluster: str) -> list[str]:
    pki, client = front_proxy_pki(cluster_pki, cluster)
    return [
        f"--requestheader-client-ca-file={pki.ca.cert}",
        f"--requestheader-allowed-names={FRONT_PROXY_CLIENT}",
        "--requestheader-username-headers=X-Remote-User",
        "--requestheader-group-headers=X-Remote-Group",
        "--requestheader-extra-headers-prefix=X-Remote-Extra-",
        f"--proxy-client-cert-file={client.cert}",
        f"--proxy-client-key-file={client.key}",
    ]


def tenant_hpa_flags(role: str) -> list[str]:
    if role != "tenant":
        return []
    return [
        f"--horizontal-pod-autoscaler-sync-period={HPA_SYNC_PERIOD}",
        f"--horizontal-pod-autoscaler-downscale-stabilization={HPA_DOWNSCALE_STABILIZATION}",
    ]


def kwok_metrics_argv(config: Path, server_port: int) -> list[str]:
    """kwok flags: its usage/metrics configuration and the kubelet port nodes advertise."""
    return [f"--config={config}", f"--node-port={server_port}"]


def node_metrics_annotation(node_name: str) -> dict[str, str]:
    return {METRICS_PATH_ANNOTATION: f"/metrics/nodes/{node_name}/metrics/resource",
            POD_METRICS_PATH_ANNOTATION: f"/metrics/nodes/{node_name}/metrics/pods"}


def _usage(resource: str, default: str) -> dict[str, str]:
    key = f"kwok.x-k8s.io/usage-{resource}"
    return {
        "expression": f'"{key}" in pod.metadata.annotations'
        f' ? Quantity(pod.metadata.annotations["{key}"]) : Quantity("{default}")'
    }


def _metric(name: str, dimension: str, kind: str, value: str) -> dict[str, Any]:
    labels = {
        "container": [("container", "container.name")],
        "pod": [],
        "node": None,
    }[dimension]
    metric: dict[str, Any] = {"name": name, "dimension": dimension, "kind": kind, "value": value}
    if labels is not None:
        pod_labels = [("namespace", "pod.metadata.namespace"), ("pod", "pod.metadata.name")]
        metric["labels"] = [{"name": n, "value": v} for n, v in labels + pod_labels]
    return metric


def kwok_metrics_config() -> list[dict[str, Any]]:
    """kwok's Metric (the kubelet's /metrics/resource) and ClusterResourceUsage documents."""
    usage = {
        "apiVersion": "kwok.x-k8s.io/v1alpha1",
        "kind": "ClusterResourceUsage",
        "metadata": {"name": "usage-from-annotation"},
        "spec": {
            "usages": [{"usage": {"cpu": _usage("cpu", "1m"), "memory": _usage("memory", "1Mi")}}]
        },
    }
    metrics = [
        _metric("scrape_error", "node", "gauge", "0"),
        _metric("container_start_time_seconds", "container", "gauge", "pod.SinceSecond()"),
        _metric(
            "container_cpu_usage_seconds_total",
            "container",
            "counter",
            'pod.CumulativeUsage("cpu", container.name)',
        ),
        _metric(
            "container_memory_working_set_bytes",
            "container",
            "gauge",
            'pod.Usage("memory", container.name)',
        ),
        _metric("pod_cpu_usage_seconds_total", "pod", "counter", 'pod.CumulativeUsage("cpu")'),
        _metric("pod_memory_working_set_bytes", "pod", "gauge", 'pod.Usage("memory")'),
        _metric("node_cpu_usage_seconds_total", "node", "counter", 'node.CumulativeUsage("cpu")'),
        _metric("node_memory_working_set_bytes", "node", "gauge", 'node.Usage("memory")'),
    ]
    metric = {
        "apiVersion": "kwok.x-k8s.io/v1alpha1",
        "kind": "Metric",
        "metadata": {"name": "metrics-resource"},
        "spec": {"path": "/metrics/nodes/{nodeName}/metrics/resource", "metrics": metrics},
    }
    return [usage, metric, pod_metrics_config()]


def pod_metrics_config() -> dict[str, Any]:
    """kwok's Metric simulating the pods' own Prometheus metrics (application gauges)."""
    key = REQUESTS_ANNOTATION
    requests = (f'"{key}" in pod.metadata.annotations'
                f' ? Quantity(pod.metadata.annotations["{key}"]) : Quantity("0")')
    metrics = [
        _metric("http_requests_per_second", "pod", "gauge", requests),
    ]
    return {
        "apiVersion": "kwok.x-k8s.io/v1alpha1",
        "kind": "Metric",
        "metadata": {"name": "metrics-pods"},
        "spec": {"path": "/metrics/nodes/{nodeName}/metrics/pods", "metrics": metrics},
    }


def metrics_server_argv(bindir: Path, kubeconfig: Path, port: int, cert_dir: Path) -> list[str]:
    return [
        str(bindir / "metrics-server"),
        f"--kubeconfig={kubeconfig}",
        f"--authentication-kubeconfig={kubeconfig}",
        f"--authorization-kubeconfig={kubeconfig}",
        "--bind-address=127.0.0.1",
        f"--secure-port={port}",
        f"--cert-dir={cert_dir}",
        # kwok's nodes: InternalIP 127.0.0.1, kubelet port = kwok's server (self-signed).
        "--kubelet-preferred-address-types=InternalIP",
        "--kubelet-use-node-status-port",
        "--kubelet-insecure-tls",
        f"--metric-resolution={METRIC_RESOLUTION}",
        "--kubelet-request-timeout=5s",
        "--v=1",
    ]


def apiservice_objects(
    service_name: str, port: int, ca_bundle_b64: str | None = None
) -> list[dict[str, Any]]:
    """ExternalName Service (localhost:port) and APIService v1beta1.metrics.k8s.io."""
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": service_name, "namespace": "kube-system"},
        "spec": {
            "type": "ExternalName",
            "externalName": "localhost",
            "ports": [{"name": "https", "port": port, "protocol": "TCP"}],
        },
    }
    spec: dict[str, Any] = {
        "group": "metrics.k8s.io",
        "version": "v1beta1",
        "service": {"namespace": "kube-system", "name": service_name, "port": port},
        "groupPriorityMinimum": 100,
        "versionPriority": 100,
    }
    if ca_bundle_b64:
        spec["caBundle"] = ca_bundle_b64
    else:
        spec["insecureSkipTLSVerify"] = True
    apiservice = {
        "apiVersion": "apiregistration.k8s.io/v1",
        "kind": "APIService",
        "metadata": {"name": "v1beta1.metrics.k8s.io"},
        "spec": spec,
    }
    return [service, apiservice]


METRICS_API_SERVICE_DNS = "fusionvc-metrics-api.kube-system.svc"  # what aggregators verify


def _serving_cert(pki: ClusterPKI, stem: str, dns_names: tuple[str, ...]) -> CertPair:
    """A server certificate for 127.0.0.1 and the given DNS names (reused when present)."""
    pair = CertPair(pki.folder / f"{stem}.crt", pki.folder / f"{stem}.key")
    if pair.cert.exists() and pair.key.exists():
        return pair
    ca_key = serialization.load_pem_private_key(pki.ca.key.read_bytes(), password=None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    ca_cert = x509.load_pem_x509_certificate(pki.ca.cert.read_bytes())
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    sans = [x509.DNSName(n) for n in dns_names] + [
        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))
    ]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, dns_names[0])]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pair.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    pair.key.chmod(0o600)
    pair.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return pair


def metrics_api_cert(state_dir: Path) -> dict[str, str]:
    """Serving certificate of the syncer's metrics API and its CA. Aggregators verify the
    name <service>.<namespace>.svc of the APIService's Service; tests dial 127.0.0.1."""
    pki = ClusterPKI(state_dir / "pki" / "fusionvc-metrics-api")
    pki.ensure_ca("fusionvc-metrics-api")
    pair = _serving_cert(pki, "serving", (METRICS_API_SERVICE_DNS, "localhost"))
    return {"certFile": str(pair.cert), "keyFile": str(pair.key), "caFile": str(pki.ca.cert)}


def metrics_api_flags(cert: dict[str, str], port: int) -> list[str]:
    """Syncer flags that turn on its metrics API and register it in every tenant."""
    return [
        f"--metrics-api-port={port}",
        "--metrics-api-host=127.0.0.1",
        f"--metrics-api-cert-file={cert['certFile']}",
        f"--metrics-api-key-file={cert['keyFile']}",
        f"--metrics-api-ca-file={cert['caFile']}",
        "--metrics-api-advertise-host=localhost",
    ]
