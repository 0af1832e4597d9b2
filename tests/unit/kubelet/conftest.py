"""TLS contexts of a throw-away CA for the kubelet endpoint's connection tests."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
from sandbox_lib.pki import ClusterPKI


@pytest.fixture(scope="session")
def tls(  # (server, client) contexts, client certificates required
        tmp_path_factory: pytest.TempPathFactory) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    pki = ClusterPKI(Path(tmp_path_factory.mktemp("pki")))
    pki.ensure_ca("tunnel-test")
    serving, client = pki.issue("server", "server", server=True), pki.issue("client", "client")
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(pki.ca.cert))
    server_ctx.load_cert_chain(str(serving.cert), str(serving.key))
    client_ctx = ssl.create_default_context(cafile=str(pki.ca.cert))
    client_ctx.load_cert_chain(str(client.cert), str(client.key))
    return server_ctx, client_ctx
