"""Command line of hack/sandbox: up, down, status [--json]."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from pathlib import Path
from typing import Any

from .processes import SandboxError
from .sandbox import REPO, Sandbox, build_bins
from .topology import TopologyError, load_topology, parse_node_heartbeat, with_pods_per_node


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hack/sandbox",
        description=(
            "Real local clusters: one etcd, kube-apiserver + kube-controller-manager per cluster, "
            "kwok for edge nodes."
        ),
    )
    parser.add_argument(
        "--dir",
        type=Path,
        default=Path(os.environ.get("FUSIONVC_SANDBOX_DIR", REPO / ".sandbox")),
        help="state folder (default .sandbox, or $FUSIONVC_SANDBOX_DIR)",
    )
    parser.add_argument(
        "--config",
        type=Path,
        default=REPO / "config/sandbox.yaml",
        help="topology file (default config/sandbox.yaml)",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start every cluster (idempotent)")
    up.add_argument("--with-syncer", action="store_true", help="then run the syncer on them")
    up.add_argument("--node-heartbeat", type=float, metavar="SECONDS",
                    help="the syncer's virtual node Lease renewal, and the tenant controller-"
                    "managers' grace period after it (default: the topology's "
                    "nodeHeartbeatSeconds, 10)")
    up.add_argument("--pods-per-node", type=int, metavar="N",
                    help="pod capacity of every edge node (default: the topology's, 110-250); "
                    "for benchmarks at scale: 550 fits 10,000 amd64 pods (19 amd64 nodes)")
    up.add_argument("--apiserver-profiling", action="store_true",
                    help="serve /debug/pprof on every kube-apiserver (for "
                    "hack/bench/apiserver_cpu.py; off by default, as in production)")
    for verb, text in (
        ("stop", "stop one process, e.g. edge-bj-apiserver"),
        ("start", "start a stopped process again"),
    ):
        one = sub.add_parser(verb, help=text)
        one.add_argument("process", help="process name, as in status --json")
    sub.add_parser("down", help="stop every process the sandbox started")
    status = sub.add_parser("status", help="clusters, URLs and kubeconfig paths")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    return parser


def _print_status(status: dict[str, object]) -> None:
    print(f"sandbox {'up' if status['up'] else 'down'} ({status['dir']})")
    for c in status["clusters"]:  # type: ignore[attr-defined]
        region = f" region={c['region']}" if c.get("region") else ""
        print(f"  {c['name']:<12} {c['role']:<10} {c['url']}{region}")
        print(f"    kubeconfig: {c['kubeconfig']}")
    gslb = status.get("gslb")
    if isinstance(gslb, dict):  # the GSLB DNS server (udp and tcp)
        print(f"  {'gslb':<12} {'dns':<10} {gslb['address']}:{gslb['port']}")


def _print_next_steps(status: dict[str, Any]) -> None:
    tenants = [c for c in status["clusters"] if c["role"] == "tenant"]
    if not tenants:
        return
    kc = tenants[0]["kubeconfig"]
    print("\nA tenant types next (virtual nodes appear once its pods run on edge nodes):")
    print(f"  kubectl --kubeconfig {kc} create deployment web --image=nginx --replicas=3")
    print(f"  kubectl --kubeconfig {kc} get pods -o wide")
    print(
        f"  kubectl --kubeconfig {kc} get nodes -L fusionvc.io/edge-cluster,nvidia.com/gpu.product"
    )
    if status.get("syncer"):
        print(f"Syncer log: {status['syncer']['log']}")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        topology = load_topology(args.config)
        if getattr(args, "node_heartbeat", None) is not None:
            heartbeat = parse_node_heartbeat({"nodeHeartbeatSeconds": args.node_heartbeat})
            topology = dataclasses.replace(topology, node_heartbeat_s=heartbeat)
        if getattr(args, "pods_per_node", None) is not None:
            topology = with_pods_per_node(topology, args.pods_per_node)
        if getattr(args, "apiserver_profiling", False):
            topology = dataclasses.replace(topology, apiserver_profiling=True)
        box = Sandbox(args.dir.resolve(), topology, args.config.resolve())
        if args.command == "status":
            status = box.status()
            if args.json:
                print(json.dumps(status, indent=1))
            else:
                _print_status(status)
            return 0
        if args.command == "down":
            stopped = box.down()
            print(
                f"sandbox: stopped {len(stopped)} processes"
                if stopped
                else "sandbox: nothing was running"
            )
            return 0
        if args.command in ("stop", "start"):
            (box.stop_one if args.command == "stop" else box.start_one)(args.process)
            return 0
        log = lambda msg: print(msg, flush=True)  # noqa: E731
        if not box.up(build_bins(), log=log):
            print("sandbox: already up")
        if args.with_syncer:
            box.start_syncer(log)
        _print_status(box.status())
        _print_next_steps(box.status())
        return 0
    except (TopologyError, SandboxError) as err:
        print(f"sandbox: error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
