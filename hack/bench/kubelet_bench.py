"""Benchmark of the kubelet endpoint (syncer/kubelet): prints figures, side by side.

1. ``pods/log`` latency through a tenant (tenant apiserver -> fusionvc -> edge
   apiserver -> kwok) against the same call on the edge apiserver directly,
   alternated in one run, over keep-alive HTTPS as kubectl sends it: p50, p99
   and the difference (goal: added p50 <= 10 ms). ``kubectl logs`` itself adds
   its own start-up, the same on both paths, so it is left out.
2. ``kubectl port-forward`` throughput through the tenant against the same on
   the edge pod directly (kwok echoes through ``cat``; bytes go and come back)
   (goal: >= 0.5x).
3. Syncer RSS and CPU per open ``logs -f`` stream with N open (goal: <= 64 KiB).
   RSS is the syncer's growth: run it on a freshly started syncer
   (``hack/sandbox stop syncer``, ``start syncer``), or it reuses what streams of an
   earlier run left in its heap and reads low.
   It prints the endpoint's gauges with the streams open: the protocol the tenant
   apiserver took, and how many HTTP/2 connections carry the streams each way.

Port-forward prints MiB/s of each path and the CPU milliseconds every process on
it spends per MiB echoed (kwok's ``cat`` from its reaped children), so the
fusionvc share can be told from the apiservers', kubectl's and kwok's.

Needs a sandbox with the syncer running (``make up``, or
``hack/sandbox up --with-syncer``); uses tenant-a and its first edge pod.
Run: ``PYTHONPATH=.:hack .venv/bin/python hack/bench/kubelet_bench.py [--dir .sandbox]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import ssl
import statistics
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import aiohttp
from common import REPO, cpu_seconds, live_processes, rss_kib
from kubelet_relay_bench import pump

from hack.sandbox_lib.processes import free_port
from syncer.core.names import edge_namespace

NS = "kubelet-bench"


class Cluster:
    def __init__(self, state_dir: Path, name: str, url: str) -> None:
        self.name, self.url = name, url
        pki = state_dir / "pki" / name
        self.kubeconfig = str(state_dir / "kubeconfig" / f"{name}.yaml")
        self.ssl = ssl.create_default_context(cafile=str(pki / "ca.crt"))
        self.ssl.load_cert_chain(str(pki / "admin.crt"), str(pki / "admin.key"))

    def kubectl(self, *args: str, stdin: str | None = None) -> str:
        return subprocess.run(["kubectl", f"--kubeconfig={self.kubeconfig}", *args], input=stdin,
                              capture_output=True, text=True, check=True, timeout=120).stdout

    def json(self, *args: str) -> Any:
        return json.loads(self.kubectl(*args, "-o", "json"))


def wait(check: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.5)
    raise SystemExit(f"timed out waiting for {what}")


def setup(state: dict[str, Any], state_dir: Path) -> tuple[Cluster, Cluster, str, str]:
    """(tenant, edge, edge namespace, log path) for a running pod ``web``."""
    urls = {c["name"]: c["url"] for c in state["clusters"]}
    tenant = Cluster(state_dir, "tenant-a", urls["tenant-a"])
    manifest = {"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}},
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": NS},
         "spec": {"containers": [{"name": "main", "image": "busybox"}]}}]}
    tenant.kubectl("apply", "-f", "-", stdin=json.dumps(manifest))
    wait(lambda: tenant.json("get", "pod", "web", "-n", NS).get("status", {}).get("phase")
         == "Running", 180, "the bench pod running")
    node = tenant.json("get", "node", tenant.json("get", "pod", "web", "-n", NS)["spec"][
        "nodeName"])
    edge_name = node["metadata"]["annotations"]["fusionvc.io/edge-cluster"]
    edge = Cluster(state_dir, edge_name, urls[edge_name])
    mgmt = Cluster(state_dir, "management", urls["management"])
    uid = mgmt.json("get", "tenant", "tenant-a")["metadata"]["uid"]
    return tenant, edge, edge_namespace("tenant-a", uid, NS), state["kubelet"]["logsFile"]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def endpoint_target(tenant: Cluster, state_dir: Path) -> tuple[str, ssl.SSLContext]:
    """URL and TLS identity of fusionvc's endpoint as tenant-a's apiserver calls it."""
    pod = tenant.json("get", "pod", "web", "-n", NS)
    node = tenant.json("get", "node", pod["spec"]["nodeName"])
    port = node["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"]
    pki = state_dir / "pki" / "fusionvc-kubelet"
    context = ssl.create_default_context(cafile=str(pki / "ca.crt"))
    context.load_cert_chain(str(pki / "client-tenant-a.crt"), str(pki / "client-tenant-a.key"))
    return f"https://127.0.0.1:{port}", context


async def log_latency(tenant: Cluster, edge: Cluster, ens: str, n: int,
                      endpoint: tuple[str, ssl.SSLContext]) -> None:
    targets = {
        "through tenant (fusionvc)": (tenant.url, tenant.ssl,
                                      f"/api/v1/namespaces/{NS}/pods/web/log?tailLines=10"),
        "fusionvc endpoint alone": (*endpoint, f"/containerLogs/{NS}/web/main?tailLines=10"),
        "edge apiserver directly": (edge.url, edge.ssl,
                                    f"/api/v1/namespaces/{ens}/pods/web/log?tailLines=10")}
    times: dict[str, list[float]] = {name: [] for name in targets}
    sessions = {name: aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=t[1]))
                for name, t in targets.items()}
    try:
        for i in range(n + 10):
            for name, (base, _, path) in targets.items():
                start = time.perf_counter()
                async with sessions[name].get(base + path) as resp:
                    await resp.read()
                    assert resp.status == 200, (name, resp.status)
                if i >= 10:  # warm-up excluded
                    times[name].append((time.perf_counter() - start) * 1000)
    finally:
        for session in sessions.values():
            await session.close()
    print(f"\npods/log ({n} calls each, alternated, keep-alive; ms)")
    print(f"  {'':26}{'p50':>8}{'p99':>8}")
    for name, values in times.items():
        print(f"  {name:26}{statistics.median(values):8.1f}{pct(values, 0.99):8.1f}")
    t, e = times["through tenant (fusionvc)"], times["edge apiserver directly"]
    print(f"  {'added (tenant - direct)':26}{statistics.median(t) - statistics.median(e):8.1f}"
          f"{pct(t, 0.99) - pct(e, 0.99):8.1f}   (goal: added p50 <= 10 ms)")


def child_cpu_seconds(pid: int) -> float:
    """CPU seconds of a process's children it has waited for (kwok's ``cat`` per forward)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")


class ForwardPath:
    """One ``kubectl port-forward`` path and the sandbox processes its bytes cross."""

    def __init__(self, cluster: Cluster, ns: str, processes: dict[str, int], kwok: int) -> None:
        self.cluster, self.ns, self.processes, self.kwok = cluster, ns, processes, kwok

    def run(self, total: int, window: int) -> tuple[float, dict[str, float]]:
        """(MiB/s, CPU ms per MiB echoed of each process) of one forward echoing ``total``.

        At most ``window`` bytes are in flight (0: as many as the path's buffers take).
        """
        port = free_port()
        proc = subprocess.Popen(["kubectl", f"--kubeconfig={self.cluster.kubeconfig}", "-n",
                                 self.ns, "port-forward", "pod/web", f"{port}:8080"],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        try:
            assert proc.stdout is not None
            proc.stdout.readline()
            with socket.create_connection(("127.0.0.1", port), timeout=120) as conn:
                pump(conn.sendall, conn.recv, 1 << 20, 1 << 20)  # warm-up
                pids = {**self.processes, "kubectl": proc.pid}
                before = {name: cpu_seconds(pid) for name, pid in pids.items()}
                cat_before = child_cpu_seconds(self.kwok)
                rate = pump(conn.sendall, conn.recv, total, window or total)
                spent = {name: cpu_seconds(pid) - before[name] for name, pid in pids.items()}
            time.sleep(1.0)  # kwok reaps its `cat` once the stream is closed
            spent["kwok cat"] = child_cpu_seconds(self.kwok) - cat_before
        finally:
            proc.kill()
            proc.wait()
        return rate, {name: s * 1000 / (total >> 20) for name, s in spent.items()}


def forward_paths(state_dir: Path, tenant: Cluster, edge: Cluster, ens: str, pid: int
                  ) -> dict[str, ForwardPath]:
    procs = dict(live_processes(str(state_dir)))
    edge_side = {"edge apiserver": procs[f"{edge.name}-apiserver"],
                 "kwok": procs[f"{edge.name}-kwok"]}
    return {
        "through tenant (fusionvc)": ForwardPath(tenant, NS, {
            "tenant apiserver": procs[f"{tenant.name}-apiserver"], "syncer": pid, **edge_side},
            edge_side["kwok"]),
        "edge apiserver directly": ForwardPath(edge, ens, edge_side, edge_side["kwok"]),
    }


FORWARD_COLUMNS = ("kubectl", "tenant apiserver", "syncer", "edge apiserver", "kwok", "kwok cat")


def port_forward(paths: dict[str, ForwardPath], mib: int, rounds: int, window_kib: int
                 ) -> None:
    rates: dict[str, list[float]] = {name: [] for name in paths}
    costs: dict[str, list[dict[str, float]]] = {name: [] for name in paths}
    for _ in range(rounds):
        for name, path in paths.items():
            rate, cost = path.run(mib << 20, window_kib << 10)
            rates[name].append(rate)
            costs[name].append(cost)
    flight = f"{window_kib} KiB" if window_kib else "unbounded (buffers full)"
    print(f"\nport-forward echo ({mib} MiB each way, in flight {flight}, {rounds} "
          f"rounds alternated, medians; load {os.getloadavg()[0]:.1f})")
    print(f"  {'':26}{'MiB/s':>7}   CPU ms per MiB echoed: "
          + "".join(f"{c:>11}" for c in FORWARD_COLUMNS) + f"{'sum':>8}")
    sums = {}
    for name in paths:
        per = {c: statistics.median(cost.get(c, 0.0) for cost in costs[name])
               for c in FORWARD_COLUMNS}
        sums[name] = sum(per.values())
        print(f"  {name:26}{statistics.median(rates[name]):7.1f}   {'':22}"
              + "".join(f"{per[c]:11.1f}" for c in FORWARD_COLUMNS) + f"{sums[name]:8.1f}")
    through = statistics.median(rates["through tenant (fusionvc)"])
    direct = statistics.median(rates["edge apiserver directly"])
    cpu_ratio = sums["edge apiserver directly"] / sums["through tenant (fusionvc)"]
    print(f"  ratio through/direct      {through / direct:7.2f}   (goal: >= 0.5); CPU per MiB "
          f"direct/through {cpu_ratio:.2f}")


def append_line(logs_file: str, text: str) -> None:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S.000000000Z", time.gmtime())
    with open(logs_file, "a", encoding="utf-8") as out:
        out.write(f"{stamp} stdout F {text}\n")


async def _first_line(session: aiohttp.ClientSession, url: str,
                      opened: list[aiohttp.ClientResponse]) -> None:
    """Opens one stream and waits for its first bytes (kwok sends headers with them)."""
    resp = await session.get(url)
    opened.append(resp)
    await resp.content.readany()


def kubelet_gauges(state_dir: Path) -> str:
    """The syncer's kubelet endpoint gauges (open streams, HTTP/2 connections) from /metrics."""
    records = json.loads((state_dir / "processes.json").read_text())
    argv = next(r.get("argv", []) for r in records if r["name"] == "syncer")
    port = next((a.split("=", 1)[1] for a in argv if a.startswith("--http-port=")), None)
    if port is None:
        return "(no --http-port in the syncer's argv)"
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    text = opener.open(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    return ", ".join(line for line in text.splitlines() if line.startswith("fusionvc_kubelet_"))


async def follow_streams(tenant: Cluster, syncer_pid: int, n: int, logs_file: str,
                         state_dir: Path) -> None:
    base_rss = rss_kib(syncer_pid)
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=tenant.ssl, limit=0),
                                    timeout=aiohttp.ClientTimeout(total=None))
    url = tenant.url + f"/api/v1/namespaces/{NS}/pods/web/log?follow=true&tailLines=0"
    opened: list[aiohttp.ClientResponse] = []
    tasks = [asyncio.create_task(_first_line(session, url, opened)) for _ in range(n)]
    try:
        waited = 0.0
        while not all(t.done() for t in tasks) and waited < 300:
            append_line(logs_file, "bench opening")
            await asyncio.sleep(2)
            waited += 2
        await asyncio.sleep(3)
        streaming = sum(1 for t in tasks if t.done() and t.exception() is None)
        open_rss = rss_kib(syncer_pid)
        gauges = kubelet_gauges(state_dir)
        cpu0, t0 = cpu_seconds(syncer_pid), time.monotonic()
        for i in range(20):  # two lines a second reach every stream
            append_line(logs_file, f"bench line {i}")
            await asyncio.sleep(0.5)
        cpu = cpu_seconds(syncer_pid) - cpu0
        elapsed = time.monotonic() - t0
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for r in opened:
            r.close()
        await session.close()
    print(f"\nsyncer with {n} open `logs -f` streams through tenant-a ({streaming} streaming)")
    print(f"  RSS before {base_rss / 1024:.1f} MiB, with streams {open_rss / 1024:.1f} MiB: "
          f"{(open_rss - base_rss) / max(streaming, 1):.1f} KiB per stream   (goal: <= 64 KiB)")
    print(f"  CPU {cpu / elapsed * 100:.1f}% of a core over {elapsed:.0f}s with two lines a "
          f"second to each: {cpu / elapsed / max(streaming, 1) * 1000:.2f} ms/s per stream")
    print(f"  endpoint gauges with them open: {gauges}")


def syncer_pid(state_dir: Path) -> int:
    records = json.loads((state_dir / "processes.json").read_text())
    pids = [r["pid"] for r in records if r["name"] == "syncer"
            and os.path.exists(f"/proc/{r['pid']}")]
    if not pids:
        raise SystemExit("no syncer runs: hack/sandbox up --with-syncer")
    return int(pids[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", default=str(REPO / ".sandbox"), help="sandbox state folder")
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--mib", type=int, default=64, help="port-forward bytes each way")
    parser.add_argument("--rounds", type=int, default=3, help="port-forward runs per path")
    parser.add_argument("--windows", type=lambda v: [int(w) for w in v.split(",")],
                        default=[1024, 0], help="KiB in flight in the echo, comma-separated "
                        "(0: unbounded)")
    parser.add_argument("--streams", type=int, default=100)
    parser.add_argument("--parts", default="logs,forward,streams",
                        help="comma-separated: logs, forward, streams")
    args = parser.parse_args()
    state_dir = Path(args.dir).resolve()
    state = json.loads((state_dir / "state.json").read_text())
    pid = syncer_pid(state_dir)
    tenant, edge, ens, logs_file = setup(state, state_dir)
    print(f"kubelet endpoint bench: tenant-a pod web on {edge.name}; load "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    if "logs" in args.parts:
        asyncio.run(log_latency(tenant, edge, ens, args.calls, endpoint_target(tenant, state_dir)))
    if "forward" in args.parts:
        paths = forward_paths(state_dir, tenant, edge, ens, pid)
        for window in args.windows:
            port_forward(paths, args.mib, args.rounds, window)
    if "streams" in args.parts:
        asyncio.run(follow_streams(tenant, pid, args.streams, logs_file, state_dir))
    tenant.kubectl("delete", "namespace", NS, "--wait=false")


if __name__ == "__main__":
    main()
