"""EdgeDNS: the process. Connects to its edge API server, waits for the first tables,
then opens the listeners; runs until SIGTERM/SIGINT and closes everything it opened."""

from __future__ import annotations

import asyncio
import signal

import structlog
from kubernetes_asyncio.client import ApiClient, Configuration
from kubernetes_asyncio.config import load_incluster_config, load_kube_config

from syncer.edgedns.forward import Forwarder
from syncer.edgedns.server import DnsServer, Resolver
from syncer.edgedns.settings import EdgeDNSSettings
from syncer.edgedns.tables import Tables
from syncer.edgedns.view import EdgeView
from syncer.kube.client import KubeClient

log = structlog.get_logger(__name__)


async def edge_client(settings: EdgeDNSSettings) -> KubeClient:
    config = Configuration()
    if settings.kubeconfig:
        await load_kube_config(config_file=settings.kubeconfig, client_configuration=config)
    else:
        load_incluster_config(client_configuration=config)
    return KubeClient(ApiClient(configuration=config), "edge", settings.request_timeout_s)


class EdgeDNS:
    def __init__(self, settings: EdgeDNSSettings, client: KubeClient) -> None:
        self.settings = settings
        self.resolver = Resolver(Tables(settings.cluster_domain),
                                 Forwarder(settings.upstreams, settings.upstream_timeout_s),
                                 settings.trusted_sources, settings.ttl)
        self.first_tables = asyncio.Event()
        self.view = EdgeView(client, settings.cluster_domain, self._tables)
        self.server = DnsServer(self.resolver, settings.listeners)

    def _tables(self, tables: Tables) -> None:
        self.resolver.swap(tables)
        self.first_tables.set()

    async def run(self, stop: asyncio.Event) -> None:
        self.view.start()
        try:
            waiter = asyncio.create_task(self.first_tables.wait())
            stopper = asyncio.create_task(stop.wait())
            await asyncio.wait((waiter, stopper), return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            stopper.cancel()
            if stop.is_set():
                return
            await self.server.start()
            log.info("ready", tenants=len(self.resolver.tables.tenants))
            try:
                await stop.wait()
            finally:
                await self.server.stop()
        finally:
            await self.view.stop()


async def run(settings: EdgeDNSSettings) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    client = await edge_client(settings)
    try:
        await EdgeDNS(settings, client).run(stop)
    finally:
        await client.close()
    return 0
