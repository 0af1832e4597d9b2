"""kubectl top pods latency for many tenant pods (fusionvc's metrics.k8s.io).

Needs `make up` (the syncer runs with its metrics API). Creates one Deployment of
--pods replicas in tenant-a with kwok usage annotations, waits until every pod has
metrics, then times, side by side in one run: `kubectl top pods` (what a tenant
types), the same request on the tenant apiserver without kubectl (aggregator +
syncer), and `kubectl get pods` on the same namespace (the baseline of a list of
that size). Prints p50/p99 and the syncer's CPU per request. Goal: top p99 <= 500 ms.
"""

from __future__ import annotations

import argparse
import json
import ssl
import subprocess
import time
import urllib.request
import uuid
from pathlib import Path

from common import cpu_seconds, kubeconfig, live_processes, percentile, sandbox_status


def kubectl(kc: str, *args: str, stdin: str | None = None, timeout: float = 120) -> str:
    return subprocess.run(["kubectl", f"--kubeconfig={kc}", *args], input=stdin,
                          capture_output=True, text=True, timeout=timeout, check=True).stdout


def deployment(ns: str, replicas: int) -> dict:  # type: ignore[type-arg]
    container = {"name": "main", "image": "registry.local/app:1",
                 "resources": {"requests": {"cpu": "1m", "memory": "1Mi"}}}
    annotations = {"kwok.x-k8s.io/usage-cpu": "2m", "kwok.x-k8s.io/usage-memory": "3Mi"}
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "bench", "namespace": ns},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "bench"}},
                     "template": {"metadata": {"labels": {"app": "bench"},
                                               "annotations": annotations},
                                  "spec": {"containers": [container]}}}}


def rows(kc: str, ns: str) -> int:
    proc = subprocess.run(["kubectl", f"--kubeconfig={kc}", "top", "pods", "-n", ns,
                           "--no-headers"], capture_output=True, text=True, timeout=60)
    return len(proc.stdout.splitlines()) if proc.returncode == 0 else 0


def wait_all_measured(kc: str, ns: str, pods: int, timeout: float) -> float:
    start = time.monotonic()
    while (have := rows(kc, ns)) < pods:
        if time.monotonic() - start > timeout:
            raise SystemExit(f"only {have} of {pods} pods have metrics after {timeout:.0f}s")
        print(f"  {have}/{pods} pods measured", flush=True)
        time.sleep(10)
    return time.monotonic() - start


def raw_client(kc_path: str) -> tuple[str, ssl.SSLContext]:
    """Server URL and TLS context of the admin kubeconfig (certificates embedded)."""
    import base64
    import tempfile

    import yaml

    doc = yaml.safe_load(Path(kc_path).read_text())
    cluster, user = doc["clusters"][0]["cluster"], doc["users"][0]["user"]
    folder = Path(tempfile.mkdtemp(prefix="metrics-bench-"))
    for name, key in (("ca.crt", "certificate-authority-data"),
                      ("c.crt", "client-certificate-data"), ("c.key", "client-key-data")):
        src = cluster if name == "ca.crt" else user
        (folder / name).write_bytes(base64.b64decode(src[key]))
    ctx = ssl.create_default_context(cafile=str(folder / "ca.crt"))
    ctx.load_cert_chain(str(folder / "c.crt"), str(folder / "c.key"))
    return cluster["server"], ctx


def timed(fn: object, runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        out.append((time.perf_counter() - start) * 1000)
    return out


def syncer_cpu() -> float:
    pids = [pid for name, pid in live_processes() if name == "syncer"]
    return cpu_seconds(pids[0]) if pids else float("nan")


def measure(kc: str, ns: str, runs: int) -> None:
    server, ctx = raw_client(kc)
    url = f"{server}/apis/metrics.k8s.io/v1beta1/namespaces/{ns}/pods"

    def raw_get() -> None:
        with urllib.request.urlopen(url, context=ctx, timeout=30) as resp:
            assert len(json.loads(resp.read())["items"]) > 0

    cases = {
        "kubectl top pods": lambda: kubectl(kc, "top", "pods", "-n", ns, "--no-headers"),
        "GET metrics.k8s.io pods (no kubectl)": raw_get,
        "kubectl get pods (baseline)": lambda: kubectl(kc, "get", "pods", "-n", ns,
                                                       "--no-headers"),
    }
    print(f"\n{'request':40} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for name, fn in cases.items():
        cpu_before = syncer_cpu()
        lat = timed(fn, runs)
        cpu_ms = (syncer_cpu() - cpu_before) * 1000 / runs
        print(f"{name:40} {percentile(lat, 0.5):8.0f} {percentile(lat, 0.99):8.0f} "
              f"{max(lat):8.0f}   syncer CPU {cpu_ms:.1f} ms/request")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--timeout", type=float, default=900)
    args = parser.parse_args()
    status = sandbox_status()
    if not (status.get("syncer") or {}).get("metricsApi"):
        raise SystemExit("the syncer is not running with its metrics API: run `make up`")
    kc = kubeconfig(status, "tenant-a")
    ns = f"metrics-bench-{uuid.uuid4().hex[:6]}"
    kubectl(kc, "create", "namespace", ns)
    try:
        kubectl(kc, "apply", "-f", "-", stdin=json.dumps(deployment(ns, args.pods)))
        took = wait_all_measured(kc, ns, args.pods, args.timeout)
        print(f"{args.pods} pods running with metrics after {took:.0f}s")
        measure(kc, ns, args.runs)
    finally:
        kubectl(kc, "delete", "namespace", ns, "--wait=false")


if __name__ == "__main__":
    main()
