"""Keeps every tenant's front-proxy settings (and its APIService) current.

One task: for each connected tenant, reads its requestheader ConfigMap (new
tenants at once when ``wake`` is called, all of them every ``refresh`` seconds),
adds its front-proxy CA to the server's TLS trust, and writes the APIService
registration when the API is advertised. ``identify`` maps a client certificate to
the one tenant that issued it (ambiguous or unknown: nobody).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass

import structlog
from cryptography import x509

from syncer.fleet.conn import TenantConn
from syncer.kube.apis import CONFIGMAPS
from syncer.kube.client import KubeError
from syncer.metricsapi.auth import (
    AUTH_CONFIGMAP,
    RequestHeaderConfig,
    parse_auth_configmap,
    tenants_for_certificate,
)
from syncer.metricsapi.registration import ensure_registered

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Advertise:
    """Where tenant apiservers reach this server; None host: do not register."""

    host: str | None
    port: int
    ca_pem: bytes | None


class TenantAuthRefresher:
    def __init__(self, tenants: Mapping[str, TenantConn], tls: ssl.SSLContext,
                 advertise: Advertise, refresh: float = 60.0, timeout: float = 10.0) -> None:
        self.tenants = tenants
        self.tls = tls
        self.advertise = advertise
        self.refresh = refresh
        self.timeout = timeout
        self.configs: dict[str, RequestHeaderConfig] = {}
        self._trusted: set[str] = set()
        self._done: dict[str, tuple[int, float]] = {}  # tenant -> (id(conn), when refreshed)
        self._identities: dict[bytes, str | None] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="metricsapi:tenant-auth")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    def identify(self, der: bytes) -> str | None:
        key = hashlib.sha256(der).digest()
        if key not in self._identities:
            if len(self._identities) > 1000:
                self._identities.clear()
            found = tenants_for_certificate(x509.load_der_x509_certificate(der), self.configs)
            self._identities[key] = found[0] if len(found) == 1 else None
            if len(found) > 1:
                log.warning("front-proxy certificate matches several tenants: refused",
                            tenants=found)
        return self._identities[key]

    async def _run(self) -> None:
        while True:
            await self.refresh_once()
            missing = any(t not in self._done for t in self.tenants)
            with_timeout = 2.0 if missing else self.refresh
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), with_timeout)
            self._wake.clear()

    async def refresh_once(self) -> None:
        now = time.monotonic()
        due = [c for name, c in dict(self.tenants).items()
               if self._done.get(name, (0, 0.0))[0] != id(c)
               or now - self._done[name][1] > self.refresh]
        await asyncio.gather(*(self._refresh_tenant(c) for c in due))
        for gone in set(self.configs) - set(self.tenants):
            del self.configs[gone]
            self._done.pop(gone, None)
            self._identities.clear()

    async def _refresh_tenant(self, conn: TenantConn) -> None:
        try:
            configmap = await conn.client.get(CONFIGMAPS, AUTH_CONFIGMAP[1], AUTH_CONFIGMAP[0])
            cfg = parse_auth_configmap(configmap)
            if cfg is None:
                log.warning("tenant apiserver has no requestheader (front-proxy) settings: "
                            "its metrics API requests are refused", tenant=conn.name)
                return
            if cfg.ca_pem not in self._trusted:
                self.tls.load_verify_locations(cadata=cfg.ca_pem)
                self._trusted.add(cfg.ca_pem)
            if self.configs.get(conn.name) != cfg:
                self.configs[conn.name] = cfg
                self._identities.clear()
            if self.advertise.host:
                await ensure_registered(conn, self.advertise.host, self.advertise.port,
                                        self.advertise.ca_pem)
            self._done[conn.name] = (id(conn), time.monotonic())
        except KubeError as err:
            log.warning("metrics API setup of tenant failed; retrying", tenant=conn.name,
                        status=err.status, reason=err.reason, message=err.message)
