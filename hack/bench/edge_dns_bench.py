"""Edge DNS against CoreDNS, side by side in one run, on the same edge API server.

Writes N Services into M edge namespaces of one sandbox edge cluster, marked
as fusionvc's copies for a bench tenant, then starts

- fusionvc's edge DNS (``python -m syncer.edgedns``), answering the tenant's
  names ``svc-i.bench-j.svc.cluster.local``, and
- CoreDNS (built by hack/build-bins from its Go module) with its kubernetes
  plugin on the same edge API server, limited to those edge namespaces,
  answering ``svc-i.<edge namespace>.svc.cluster.local``; ``cache 30`` as in
  the default Kubernetes Corefile (the edge DNS caches its answers too).

Each gets, in turn, the same load from this process on 127.0.0.1 (random A
queries over all N names): a closed loop with a fixed window of queries in
flight (queries/s, and queries per CPU second of the server process, from
/proc), then an open loop at a fixed offered rate (p50/p99 latency). Prints
the figures and the ratios. Nothing is sent anywhere but 127.x addresses.

On a shared machine both servers and this generator run niced (``--nice``), and
the latency run uses SCHED_FIFO (``--no-realtime`` to measure with the machine's
run queue included): the p99 of a loaded 2-core machine is its run queue's.

    PYTHONPATH=. .venv/bin/python hack/bench/edge_dns_bench.py [--state-dir .sandbox-test]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import select
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dns.message
import dns.rcode
from common import REPO, cpu_seconds, kubeconfig, percentile, sandbox_status
from dns_load import open_loop, realtime

from hack.sandbox_lib.edgedns import free_port_on_all

TENANT = "bench-dns"
DOMAIN = "cluster.local"
OURS, COREDNS = "127.53.200.1", "127.53.200.2"


def edge_namespace(j: int) -> str:
    return f"{TENANT}-000000-bench-{j}"


def bench_objects(services: int, namespaces: int) -> list[list[dict[str, object]]]:
    """Batches of edge objects: marked namespaces, then marked Services."""
    labels = {"fusionvc.io/managed-by": "fusionvc", "fusionvc.io/tenant": TENANT}
    nss: list[dict[str, object]] = [
        {"apiVersion": "v1", "kind": "Namespace",
         "metadata": {"name": edge_namespace(j), "labels": labels,
                      "annotations": {"fusionvc.io/tenant-name": f"bench-{j}"}}}
        for j in range(namespaces)]
    svcs: list[dict[str, object]] = [
        {"apiVersion": "v1", "kind": "Service",
         "metadata": {"name": f"svc-{i}", "namespace": edge_namespace(i % namespaces),
                      "labels": labels},
         "spec": {"ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}}
        for i in range(services)]
    return [nss] + [svcs[k:k + 100] for k in range(0, len(svcs), 100)]


def kubectl(kc: str, *args: str, stdin: str | None = None) -> str:
    return subprocess.run(["kubectl", f"--kubeconfig={kc}", *args], input=stdin, text=True,
                          capture_output=True, check=True, timeout=300).stdout


def corefile(port: int, kc: str, namespaces: int) -> str:
    names = " ".join(edge_namespace(j) for j in range(namespaces))
    return (f".:{port} {{\n    bind {COREDNS}\n    errors\n"
            f"    kubernetes {DOMAIN} {{\n        kubeconfig {kc}\n"
            f"        namespaces {names}\n    }}\n    cache 30\n}}\n")


@contextmanager
def process(argv: list[str], log: Path, cpu: str | None) -> Iterator[subprocess.Popen[bytes]]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "NO_PROXY": "127.0.0.1,localhost",
           "GOMAXPROCS": "1"}
    prefix = ["taskset", "-c", cpu] if cpu else []
    with open(log, "wb") as out:
        proc = subprocess.Popen([*prefix, *argv], stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def query_wires(names: list[str]) -> list[bytes]:
    return [dns.message.make_query(n, "A").to_wire() for n in names]


def ask_once(host: str, port: int, name: str, timeout: float = 1.0) -> int | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        s.settimeout(timeout)
        try:
            s.sendto(dns.message.make_query(name, "A").to_wire(), (host, port))
            return dns.message.from_wire(s.recv(4096)).rcode()
        except (OSError, dns.exception.DNSException):
            return None


def wait_serving(host: str, port: int, names: list[str], proc: subprocess.Popen[bytes],
                 what: str, timeout: float = 180) -> None:
    """Until every name answers NOERROR (both servers see all Services)."""
    deadline, pending = time.monotonic() + timeout, list(names)
    while pending:
        if proc.poll() is not None:
            raise SystemExit(f"{what} exited with {proc.returncode}")
        if time.monotonic() > deadline:
            raise SystemExit(f"{what}: {len(pending)} names still unanswered, e.g. {pending[0]}")
        if ask_once(host, port, pending[-1]) == dns.rcode.NOERROR:
            pending.pop()
        else:
            time.sleep(0.2)


def closed_loop(host: str, port: int, wires: list[bytes], seconds: float,
                window: int) -> tuple[int, float]:
    """(answers, wall seconds) with ``window`` queries always in flight."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.setblocking(False)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 21)
    rng, next_id, answers, flight = random.Random(1), 0, 0, 0
    start = time.perf_counter()
    end, last_answer = start + seconds, start

    def send() -> None:
        nonlocal next_id
        next_id = (next_id + 1) & 0xFFFF
        wire = rng.choice(wires)
        sock.sendto(next_id.to_bytes(2, "big") + wire[2:], (host, port))

    while time.perf_counter() < end:
        while flight < window:
            send()
            flight += 1
        ready, _, _ = select.select([sock], [], [], 0.05)
        now = time.perf_counter()
        if not ready:
            if now - last_answer > 0.5:  # lost replies: refill the window
                flight = 0
            continue
        while True:
            try:
                sock.recv(4096)
            except BlockingIOError:
                break
            answers, flight, last_answer = answers + 1, max(flight - 1, 0), now
    wall = time.perf_counter() - start
    sock.close()
    return answers, wall


def warm(host: str, port: int, wires: list[bytes]) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        s.settimeout(2.0)
        for wire in wires:
            s.sendto(wire, (host, port))
            try:
                s.recv(4096)
            except TimeoutError:
                continue


def measure(label: str, host: str, port: int, pid: int, wires: list[bytes],
            args: argparse.Namespace) -> dict[str, float]:
    warm(host, port, wires)  # steady state: every name asked once (both servers cache)
    closed_loop(host, port, wires, 1.0, args.window)
    cpu0 = cpu_seconds(pid)
    answers, wall = closed_loop(host, port, wires, args.seconds, args.window)
    cpu = cpu_seconds(pid) - cpu0
    with realtime(pid, args.realtime):
        latencies, lost = open_loop(host, port, wires, args.rate, args.seconds)
    row = {"qps": answers / wall, "cpu_s": cpu, "qps_per_core": answers / cpu if cpu else 0.0,
           "p50_ms": percentile(latencies, 0.50), "p99_ms": percentile(latencies, 0.99),
           "lost": float(lost)}
    print(f"{label:<10} {row['qps']:>9.0f} q/s  {row['cpu_s']:>6.2f} cpu-s  "
          f"{row['qps_per_core']:>9.0f} q/cpu-s  p50 {row['p50_ms']:.3f} ms  "
          f"p99 {row['p99_ms']:.3f} ms at {args.rate:.0f} q/s  lost {lost}", flush=True)
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--state-dir", default=None, help="sandbox folder (default .sandbox)")
    parser.add_argument("--edge", default="edge-gz")
    parser.add_argument("--services", type=int, default=1000)
    parser.add_argument("--namespaces", type=int, default=10)
    parser.add_argument("--rate", type=float, default=2000.0, help="offered load, q/s")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--window", type=int, default=32, help="queries in flight (closed loop)")
    parser.add_argument("--server-cpu", default="",
                        help="a CPU to pin both servers to (default: not pinned)")
    parser.add_argument("--keep", action="store_true", help="keep the bench objects")
    parser.add_argument("--no-realtime", dest="realtime", action="store_false",
                        help="latency run without SCHED_FIFO (includes CPU contention)")
    parser.add_argument("--nice", type=int, default=-10,
                        help="niceness of this load generator and both servers (on a shared "
                        "machine the waiting for a CPU would be measured, not the servers)")
    args = parser.parse_args()
    try:
        os.nice(args.nice)
    except PermissionError:
        print(f"cannot set niceness {args.nice} (not root): figures include CPU contention")
    status = sandbox_status(args.state_dir)
    kc = kubeconfig(status, args.edge)
    built = subprocess.run([str(REPO / "hack/build-bins"), "--coredns"], text=True,
                           stdout=subprocess.PIPE, check=True).stdout.strip().splitlines()
    coredns = Path(built[-1]) / "coredns"
    names = [edge_namespace(j) for j in range(args.namespaces)]
    # A namespace of an earlier run may still be terminating: wait until it is gone.
    kubectl(kc, "wait", "--for=delete", "--timeout=180s", *(f"namespace/{n}" for n in names))
    print(f"writing {args.services} Services in {args.namespaces} namespaces into {args.edge}")
    for batch in bench_objects(args.services, args.namespaces):
        kubectl(kc, "apply", "-f", "-",
                stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": batch}))
    try:
        return run(args, kc, coredns)
    finally:
        if not args.keep:
            kubectl(kc, "delete", "namespace", "--wait=false", *names)


def run(args: argparse.Namespace, kc: str, coredns: Path) -> int:
    port = free_port_on_all([OURS, COREDNS])
    ours_names = [f"svc-{i}.bench-{i % args.namespaces}.svc.{DOMAIN}."
                  for i in range(args.services)]
    core_names = [f"svc-{i}.{edge_namespace(i % args.namespaces)}.svc.{DOMAIN}."
                  for i in range(args.services)]
    logs = Path(tempfile.mkdtemp(prefix="edge-dns-bench-"))
    (logs / "Corefile").write_text(corefile(port, kc, args.namespaces))
    ours_argv = [str(REPO / ".venv/bin/python"), "-m", "syncer.edgedns", f"--kubeconfig={kc}",
                 f"--listen={TENANT}={OURS}:{port}", f"--upstream={OURS}:{port}",
                 "--log-level=warning"]
    core_argv = [str(coredns), "-conf", str(logs / "Corefile")]
    cpu = args.server_cpu or None
    with process(ours_argv, logs / "edgedns.log", cpu) as ours, \
            process(core_argv, logs / "coredns.log", cpu) as core:
        wait_serving(OURS, port, ours_names, ours, "edge DNS")
        wait_serving(COREDNS, port, core_names, core, "CoreDNS")
        print(f"both serve {args.services} names; closed loop {args.seconds:.0f}s with "
              f"{args.window} in flight, then {args.rate:.0f} q/s for {args.seconds:.0f}s "
              f"(servers on CPU {cpu or 'any'}, niceness {os.nice(0)}, load average "
              f"{os.getloadavg()[0]:.1f}; logs in {logs})")
        mine = measure("edge DNS", OURS, port, ours.pid, query_wires(ours_names), args)
        theirs = measure("CoreDNS", COREDNS, port, core.pid, query_wires(core_names), args)
    ratio = mine["qps_per_core"] / theirs["qps_per_core"] if theirs["qps_per_core"] else 0.0
    print(f"edge DNS / CoreDNS queries per CPU second: {ratio:.2f}x (goal >= 0.5x); "
          f"edge DNS p99 at {args.rate:.0f} q/s: {mine['p99_ms']:.3f} ms (goal <= 2 ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
