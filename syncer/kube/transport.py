"""How KubeClient reaches an API server: the transport choice and the TLS and proxy
settings of a kubeconfig, for the lean HTTP/1.1 pool (kube/http1.py) or aiohttp.

kube/client.py speaks the API over what this module sets up: ``lean_pool`` gives the
pool (None through a proxy, or when the process chose aiohttp with --api-transport),
``session_without_env_lookups`` the aiohttp session used otherwise and for nothing else.
"""

from __future__ import annotations

import ssl
import urllib.request
from urllib.parse import urlsplit

import aiohttp
from kubernetes_asyncio.client import ApiClient

from syncer.kube.http1 import KEEPALIVE_S, Endpoint, Http1Pool

READ_BUFSIZE = 2**21  # as kubernetes-asyncio: one watch event may carry a 1.5 MiB object


def client_timeout(timeout: float | tuple[float, float]) -> aiohttp.ClientTimeout:
    """A total limit, or (connect, read) as kubernetes-asyncio reads such a pair."""
    if isinstance(timeout, tuple):
        return aiohttp.ClientTimeout(connect=timeout[0], sock_connect=timeout[0],
                                     sock_read=timeout[1])
    return aiohttp.ClientTimeout(total=timeout)


def env_proxy(url: str) -> str | None:
    """The proxy the environment (HTTPS_PROXY, NO_PROXY, ...) names for this URL, if any."""
    parts = urlsplit(url)
    if not parts.hostname or urllib.request.proxy_bypass(parts.hostname):
        return None
    return urllib.request.getproxies().get(parts.scheme)


def session_without_env_lookups(api: ApiClient) -> aiohttp.ClientSession:
    """Gives the ApiClient a session that does not consult the environment per request.

    kubernetes-asyncio opens its session with trust_env, so aiohttp reads ~/.netrc and
    the proxy variables in a worker thread before every request: about a tenth of the
    syncer's profile under load. The proxy is looked up once here instead (a kubeconfig's
    proxy-url still wins). Returns the original session, which keeps owning the
    connector and must be closed after the ApiClient.
    """
    rest = api.rest_client
    original: aiohttp.ClientSession = rest.pool_manager
    rest.pool_manager = aiohttp.ClientSession(
        connector=original.connector, connector_owner=False, trust_env=False,
        read_bufsize=READ_BUFSIZE)
    if original.connector is not None and hasattr(original.connector, "_keepalive_timeout"):
        original.connector._keepalive_timeout = KEEPALIVE_S  # no public setter after creation
    if not rest.proxy:
        rest.proxy = env_proxy(api.configuration.host)
    return original


def ssl_context_of(api: ApiClient) -> ssl.SSLContext:
    """The TLS settings of a kubeconfig, as kubernetes-asyncio builds them (a new context
    each call: a caller may set ALPN on its own)."""
    conf = api.configuration
    context = ssl.create_default_context(cafile=conf.ssl_ca_cert)
    if conf.cert_file:
        context.load_cert_chain(conf.cert_file, keyfile=conf.key_file)
    if not conf.verify_ssl:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if getattr(conf, "disable_strict_ssl_verification", False):
        context.verify_flags &= ~ssl.VERIFY_X509_STRICT
    return context


# The HTTP clients KubeClient can use; the process chooses once (--api-transport).
API_TRANSPORTS = ("lean", "aiohttp")
TRANSPORT = ["lean"]


def use_transport(name: str) -> None:
    """Chooses the HTTP client of the clients made from now on (one of API_TRANSPORTS)."""
    if name not in API_TRANSPORTS:
        raise ValueError(f"unknown API transport {name!r}")
    TRANSPORT[0] = name


def lean_pool(api: ApiClient) -> Http1Pool | None:
    """The lean HTTP/1.1 pool for the cluster's calls; None through a proxy or when the
    process chose aiohttp."""
    rest = api.rest_client
    url = urlsplit(api.configuration.host)
    if TRANSPORT[0] != "lean" or rest.proxy or url.scheme not in ("http", "https") \
            or not url.hostname:
        return None
    tls = ssl_context_of(api) if url.scheme == "https" else None
    port = url.port or (443 if tls else 80)
    endpoint = Endpoint(url.hostname, port, tls, rest.server_hostname or None)
    return Http1Pool(endpoint, api.configuration.connection_pool_maxsize, KEEPALIVE_S)
