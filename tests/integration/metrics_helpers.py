"""Helpers of the metrics API tests: syncer flags, kubectl top parsing, direct TLS calls."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from typing import Any

from .sandbox_fixture import SandboxHandle
from .syncer_fixture import SyncerProcess, free_port

POD_METRICS = "/apis/metrics.k8s.io/v1beta1"


def metrics_api_args(sandbox: SandboxHandle) -> tuple[str, ...]:
    """Syncer flags that serve metrics.k8s.io to the tenants (certificates from the sandbox)."""
    cert = sandbox.status()["metricsApi"]
    return (f"--metrics-api-port={free_port()}", "--metrics-api-host=127.0.0.1",
            f"--metrics-api-cert-file={cert['certFile']}",
            f"--metrics-api-key-file={cert['keyFile']}",
            f"--metrics-api-ca-file={cert['caFile']}",
            "--metrics-api-advertise-host=localhost", "--metrics-api-poll-interval=2s",
            "--pod-metrics-interval=2s")


def metrics_api_port(syncer: SyncerProcess) -> int:
    flag = next(a for a in syncer.extra_args if a.startswith("--metrics-api-port="))
    return int(flag.split("=", 1)[1])


def cpu_milli(text: str) -> float:
    if text.endswith("n"):
        return int(text[:-1]) / 1e6
    if text.endswith("m"):
        return float(text[:-1])
    return float(text) * 1000


def memory_mib(text: str) -> float:
    units = {"Ki": 1 / 1024, "Mi": 1, "Gi": 1024}
    for suffix, scale in units.items():
        if text.endswith(suffix):
            return float(text[:-2]) * scale
    return int(text) / 2**20


def top_rows(output: str) -> dict[str, tuple[float, float]]:
    """`kubectl top ... --no-headers` as {name: (cpu millicores, memory MiB)}."""
    rows = {}
    for line in output.splitlines():
        fields = line.split()
        if len(fields) >= 4 and fields[2].endswith("%"):  # top nodes: CPU CPU% MEMORY MEMORY%
            fields = [fields[0], fields[1], fields[3]]
        if len(fields) >= 3 and fields[1].endswith("m") and fields[2].endswith("Mi"):
            rows[fields[0]] = (float(fields[1][:-1]), float(fields[2][:-2]))
    return rows


def direct_get(sandbox: SandboxHandle, syncer: SyncerProcess, path: str, *,
               client_cert: tuple[str, str] | None, user: str | None = "admin",
               groups: tuple[str, ...] = ("system:masters",)) -> tuple[int, Any]:
    """GET on the syncer's metrics API as an aggregator would (front-proxy cert + headers)."""
    ctx = ssl.create_default_context(cafile=sandbox.status()["metricsApi"]["caFile"])
    if client_cert:
        ctx.load_cert_chain(*client_cert)
    headers = {"X-Remote-User": user} if user else {}
    request = urllib.request.Request(f"https://127.0.0.1:{metrics_api_port(syncer)}{path}",
                                     headers=headers)
    for group in groups:
        request.add_header("X-Remote-Group", group)
    try:
        with urllib.request.urlopen(request, context=ctx, timeout=10) as resp:
            return int(resp.status), json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return int(err.code), json.loads(err.read() or b"{}")
    except (urllib.error.URLError, ssl.SSLError, OSError) as err:
        return 0, str(err)


def front_proxy_cert(sandbox: SandboxHandle, tenant: str) -> tuple[str, str]:
    folder = sandbox.dir / "pki" / tenant / "front-proxy"
    return str(folder / "proxy-client.crt"), str(folder / "proxy-client.key")
