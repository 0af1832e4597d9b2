"""``python -m syncer.gslb``: the authoritative DNS server for exported service domains."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

import structlog
from kubernetes_asyncio.client import ApiClient, Configuration
from kubernetes_asyncio.config import load_incluster_config, new_client_from_config

from syncer.gslb.answer import Answerer, ServerIdentity
from syncer.gslb.metrics import GslbMetrics
from syncer.gslb.model import Table
from syncer.gslb.select import Selector
from syncer.gslb.server import DNSServer
from syncer.gslb.source import TableSource
from syncer.kube.client import KubeClient
from syncer.ops import event_loop
from syncer.ops.health import HealthServer, ReadinessChecks
from syncer.ops.logs import configure_logging, shutdown_logging

log = structlog.get_logger(__name__)


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m syncer.gslb", description=__doc__)
    p.add_argument("--kubeconfig", default="", help="management cluster (default: in-cluster)")
    p.add_argument("--namespace", default="fusionvc-system",
                   help="namespace of the record ConfigMaps the syncer publishes")
    p.add_argument("--listen", default="0.0.0.0", help="address for UDP and TCP")
    p.add_argument("--port", type=int, default=53)
    p.add_argument("--nameserver", action="append", default=[],
                   help="NS name of every hosted zone (repeatable; first is the SOA mname)")
    p.add_argument("--http-host", default="0.0.0.0", help="address of /metrics, /healthz, /readyz")
    p.add_argument("--http-port", type=int, default=8080, help="0 turns the HTTP endpoints off")
    p.add_argument("--request-timeout", type=float, default=30.0)
    p.add_argument("--log-format", choices=("json", "text"), default="json")
    p.add_argument("--log-level", default="info")
    return p.parse_args(argv)


async def management_client(kubeconfig: str, timeout: float) -> KubeClient:
    if kubeconfig:
        api = await new_client_from_config(config_file=kubeconfig)
    else:
        config = Configuration()
        load_incluster_config(client_configuration=config)
        api = ApiClient(configuration=config)
    return KubeClient(api, "management", timeout)


async def run(args: argparse.Namespace) -> int:
    names = tuple(n.rstrip(".") + "." for n in args.nameserver) or ("gslb.fusionvc.local.",)
    identity = ServerIdentity(names)
    metrics = GslbMetrics()
    answerer = Answerer(Selector(Table()), identity, stats=metrics.answers)

    def install(table: Table, compile_seconds: float) -> None:
        nonlocal answerer
        answerer = Answerer(Selector(table, previous=answerer.selector), identity,
                            answerer.queries, metrics.answers)
        metrics.table.installed(table, compile_seconds)

    client = await management_client(args.kubeconfig, args.request_timeout)
    source = TableSource(client, args.namespace, install)
    server = DNSServer(lambda: answerer, args.listen, args.port)
    readiness = ReadinessChecks()
    readiness.add("management informers synced", lambda: source.synced)
    health = (HealthServer(metrics, readiness, host=args.http_host, port=args.http_port)
              if args.http_port else None)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await server.start()
        if health is not None:
            await health.start()
        source.start()
        await stop.wait()
        return 0
    finally:
        await server.stop()
        await source.stop()
        if health is not None:
            await health.stop()
        await client.close()
        log.info("stopped")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    configure_logging(args.log_format, args.log_level)
    try:
        return event_loop.run(run(args))
    except event_loop.EventLoopError as err:
        print(f"fusionvc-gslb: {err}", file=sys.stderr)
        return 2
    finally:
        shutdown_logging()


if __name__ == "__main__":
    sys.exit(main())
