"""Part 2 of gslb_bench.py: seconds from a replica-count change to new weights served.

On a running sandbox: starts its own syncer, creates a namespace in tenant-a with one
Deployment per edge site (pinned by region) behind Service ``web`` and a ServiceDomain
over all sites, then scales the edge-sh Deployment up and down a few times. For each
change it prints the seconds from ``kubectl scale`` and from the new pods being Running
in the tenant to the sandbox's GSLB process serving the new split. Cleans up after.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import dns.message
import dns.query
from common import kubeconfig, sandbox_status

REPO = Path(__file__).resolve().parents[2]
SITE_OF = {"127.20.1.1": "bj", "127.20.1.2": "bj", "127.20.2.1": "sh", "127.20.3.1": "gz"}
REGION = {"bj": "cn-beijing", "sh": "cn-shanghai", "gz": "cn-guangzhou"}


def kubectl(kc: str, *args: str, stdin: str | None = None) -> str:
    return subprocess.run(["kubectl", f"--kubeconfig={kc}", *args], input=stdin, text=True,
                          capture_output=True, check=True, timeout=60).stdout


def split(port: int, host: str, count: int) -> Counter[str]:
    got: Counter[str] = Counter()
    for _ in range(count):
        reply = dns.query.udp(dns.message.make_query(host, "A"), "127.0.0.1", port=port,
                              timeout=2)
        got.update(SITE_OF[r.to_text()] for rr in reply.answer for r in rr)
    return got


def running(kc: str, ns: str, site: str) -> int:
    pods = json.loads(kubectl(kc, "get", "pods", "-n", ns, "-l", f"site={site}", "-o", "json"))
    return sum(1 for p in pods["items"] if p["status"].get("phase") == "Running"
               and not p["metadata"].get("deletionTimestamp"))


def wait(check: Any, timeout: float, what: str) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return time.monotonic()
        time.sleep(0.05)
    raise SystemExit(f"timed out waiting for {what}")


def objects(ns: str, replicas: dict[str, int]) -> str:
    items: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": ns},
         "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}},
        {"apiVersion": "edge.fusionvc.io/v1alpha1", "kind": "ServiceDomain",
         "metadata": {"name": "web", "namespace": ns},
         "spec": {"service": "web", "hostname": f"{ns}.a.example.com",
                  "latencyToleranceMs": 1000}}]
    for site, n in replicas.items():
        labels = {"app": "web", "site": site}
        items.append({"apiVersion": "apps/v1", "kind": "Deployment",
                      "metadata": {"name": f"web-{site}", "namespace": ns},
                      "spec": {"replicas": n, "selector": {"matchLabels": labels},
                               "template": {"metadata": {"labels": labels}, "spec": {
                                   "nodeSelector": {"topology.kubernetes.io/region":
                                                    REGION[site]},
                                   "containers": [{"name": "main", "image": "registry.local/a:1",
                                                   "resources": {"requests": {"cpu": "10m"}}}]}}}})
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": items})


def weight_update_seconds(state_dir: str) -> None:
    status = sandbox_status(state_dir)
    port, tenant = int(status["gslb"]["port"]), kubeconfig(status, "tenant-a")
    env = {**os.environ, "PYTHONPATH": str(REPO), "NO_PROXY": "127.0.0.1,localhost"}
    log = open(Path(state_dir) / "logs" / "bench-syncer.log", "ab")  # noqa: SIM115
    syncer = subprocess.Popen([sys.executable, "-m", "syncer",
                               f"--kubeconfig={kubeconfig(status, 'management')}",
                               "--http-host=127.0.0.1", "--http-port=0",
                               "--leader-identity=gslb-bench"], env=env, stdout=log,
                              stderr=subprocess.STDOUT)
    ns = f"gslb-bench-{uuid.uuid4().hex[:6]}"
    host, replicas = f"{ns}.a.example.com", {"bj": 2, "sh": 1, "gz": 1}
    try:
        kubectl(tenant, "apply", "-f", "-", stdin=objects(ns, replicas))
        wait(lambda: split(port, host, 4) == Counter(replicas), 240, "the first split")
        print("replica change -> new weights served (sandbox, ServiceDomain over 3 sites):")
        for n in (3, 1, 4, 2):
            replicas["sh"] = n
            total = sum(replicas.values())
            scaled = time.monotonic()
            kubectl(tenant, "-n", ns, "scale", "deployment", "web-sh", f"--replicas={n}")
            served = wait(lambda t=total: split(port, host, t) == Counter(replicas), 240,
                          f"split {replicas}")
            ran = wait(lambda k=n: running(tenant, ns, "sh") == k, 240, "pods running")
            print(f"  edge-sh -> {n}: served {served - scaled:.2f}s after kubectl scale; "
                  f"tenant saw the pods Running {ran - scaled:.2f}s after it "
                  f"(served {served - ran:+.2f}s relative to that)")
    finally:
        subprocess.run(["kubectl", f"--kubeconfig={tenant}", "delete", "namespace", ns,
                        "--wait=false"], capture_output=True, check=False, timeout=60)
        syncer.terminate()
        syncer.wait(60)
        log.close()
