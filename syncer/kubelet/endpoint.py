"""The daemon's entry point to the kubelet endpoint: built from settings, or off."""

from __future__ import annotations

from collections.abc import Mapping

from syncer.fleet.conn import EdgeConn, TenantConn
from syncer.kubelet.server import KubeletEndpoint, server_ssl_context
from syncer.ops.settings import KubeletSettings


def advertised_address(settings: KubeletSettings) -> tuple[str, int] | None:
    """(InternalIP, kubelet port) that virtual nodes carry; None when the endpoint is off."""
    if not settings.enabled or settings.advertise_address is None:
        return None
    return settings.advertise_address, settings.advertise_port or settings.port


def build_endpoint(settings: KubeletSettings, tenants: Mapping[str, TenantConn],
                   edges: Mapping[str, EdgeConn]) -> KubeletEndpoint | None:
    """The endpoint (not started yet), reading the given connections; None when off."""
    if not settings.enabled:
        return None
    assert settings.cert_file and settings.key_file and settings.client_ca_file
    context = server_ssl_context(settings.cert_file, settings.key_file, settings.client_ca_file)
    return KubeletEndpoint(tenants, edges, host=settings.host, port=settings.port,
                           ssl_context=context)
