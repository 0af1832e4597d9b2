"""The TLS server tenant apiservers' aggregators call for ``(custom.)metrics.k8s.io``.

Every request must come from a tenant's aggregator (front-proxy certificate, see
``tenant_auth``); resource requests also need the user headers and pass a
SubjectAccessReview in that tenant. Answers come from memory: the tenant's caches
and the edge usage ``EdgeMetricsSource`` polls. ``MetricsApiServer`` owns the aiohttp
runner and both background tasks; ``stop`` ends them all.
"""

from __future__ import annotations

import ssl
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path

import orjson
import structlog
from aiohttp import web

from syncer.fleet.conn import EdgeConn, TenantConn
from syncer.kube import Obj
from syncer.kube.client import KubeError
from syncer.metricsapi import custom, views
from syncer.metricsapi.auth import (
    SAR_PATH,
    Attributes,
    DecisionCache,
    UserInfo,
    access_review,
    server_ssl_context,
    user_from_headers,
)
from syncer.metricsapi.edge_source import EdgeMetricsSource
from syncer.metricsapi.selector import SelectorError, parse_selector
from syncer.metricsapi.tenant_auth import Advertise, TenantAuthRefresher
from syncer.metricsapi.translate import metrics_list
from syncer.ops.settings import MetricsApiSettings
from syncer.podmetrics.source import PodSeriesSource
from syncer.podmetrics.sources import MetricSources

log = structlog.get_logger(__name__)
BASE = "/apis/metrics.k8s.io/v1beta1"
CUSTOM = f"/apis/{custom.GROUP_VERSION}"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
TENANT_KEY = web.RequestKey("tenant", TenantConn)


def status(code: int, reason: str, message: str) -> web.Response:
    body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}
    return web.Response(status=code, body=orjson.dumps(body), content_type="application/json")


def ok(obj: Obj) -> web.Response:
    return web.Response(body=orjson.dumps(obj), content_type="application/json")


def forbidden_message(user: UserInfo, attrs: Attributes) -> str:
    where = f' in the namespace "{attrs.namespace}"' if attrs.namespace else " at the cluster scope"
    named = f' "{attrs.name}"' if attrs.name else ""
    resource = f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource
    return (f'{attrs.resource}.{attrs.group}{named} is forbidden: User "{user.name}" cannot '
            f'{attrs.verb} resource "{resource}" in API group "{attrs.group}"{where}')


class MetricsApiServer:
    def __init__(self, settings: MetricsApiSettings, tenants: Mapping[str, TenantConn],
                 edges: Mapping[str, EdgeConn], request_timeout: float = 10.0,
                 sources: MetricSources | None = None) -> None:
        self.settings = settings
        self.tenants = tenants
        self.timeout = request_timeout
        assert settings.cert_file and settings.key_file
        self.tls: ssl.SSLContext = server_ssl_context(settings.cert_file, settings.key_file)
        ca_pem = Path(settings.ca_file).read_bytes() if settings.ca_file else None
        self.auth = TenantAuthRefresher(
            tenants, self.tls, Advertise(settings.advertise_host, settings.port, ca_pem),
            timeout=request_timeout)
        self.sources = sources or MetricSources(edges, settings.poll_interval_s,
                                                settings.pod_metrics_interval_s, request_timeout)
        self.source: EdgeMetricsSource = self.sources.usage
        self.series: PodSeriesSource = self.sources.series
        self.metric_names = custom.MetricNameCache(ttl=self.series.interval)
        self.decisions = DecisionCache()
        self._runner: web.AppRunner | None = None

    def tenant_connected(self, _conn: TenantConn) -> None:
        """Hook for the management reconciler: set up a newly connected tenant now."""
        self.auth.wake()

    def make_app(self) -> web.Application:
        app = web.Application(middlewares=[self._authenticate])
        groups = {**views.api_group_list(), "groups": [views.api_group(), custom.api_group()]}
        app.router.add_get("/apis", lambda _r: self._json(groups))
        app.router.add_get("/apis/metrics.k8s.io", lambda _r: self._json(views.api_group()))
        app.router.add_get(BASE, lambda _r: self._json(views.resource_list()))
        app.router.add_get(f"{BASE}/nodes", self._nodes)
        app.router.add_get(BASE + "/nodes/{name}", self._nodes)
        app.router.add_get(f"{BASE}/pods", self._pods)
        app.router.add_get(BASE + "/namespaces/{namespace}/pods", self._pods)
        app.router.add_get(BASE + "/namespaces/{namespace}/pods/{name}", self._pods)
        app.router.add_get("/apis/custom.metrics.k8s.io", lambda _r: self._json(custom.api_group()))
        app.router.add_get(CUSTOM, self._custom_resources)
        app.router.add_get(CUSTOM + "/namespaces/{namespace}/pods/{name}/{metric}", self._custom)
        return app

    async def _json(self, obj: Obj) -> web.Response:
        return ok(obj)

    async def start(self) -> None:
        self.auth.start()
        self.sources.start()
        self._runner = web.AppRunner(self.make_app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.settings.host, self.settings.port,
                           ssl_context=self.tls)
        await site.start()
        log.info("metrics API serving", host=self.settings.host, port=self.settings.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        await self.auth.stop()
        await self.sources.stop()

    # ---- authentication and authorization -------------------------------------------

    @web.middleware
    async def _authenticate(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        ssl_object = request.transport.get_extra_info("ssl_object") if request.transport else None
        der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
        tenant_name = self.auth.identify(der) if der else None
        tenant = self.tenants.get(tenant_name) if tenant_name else None
        if tenant is None:
            return status(401, "Unauthorized", "a tenant's front-proxy client certificate "
                          "is required")
        request[TENANT_KEY] = tenant
        return await handler(request)

    async def _authorize(self, request: web.Request, attrs: Attributes) -> web.Response | None:
        """None when allowed; else the 401/403 answer."""
        tenant = request[TENANT_KEY]
        config = self.auth.configs.get(tenant.name)
        user = user_from_headers(request.headers, config) if config is not None else None
        if user is None:
            return status(401, "Unauthorized", "no user in the front-proxy headers")
        key = (tenant.name, id(tenant), user, attrs)
        allowed = self.decisions.get(key)
        if allowed is None:
            try:
                review = await tenant.client.request("POST", SAR_PATH,
                                                     body=access_review(user, attrs),
                                                     timeout=self.timeout)
            except KubeError as err:
                log.warning("SubjectAccessReview failed", tenant=tenant.name, reason=err.reason)
                return status(503, "ServiceUnavailable", "authorization check failed")
            allowed = bool((review.get("status") or {}).get("allowed"))
            self.decisions.put(key, allowed)
        if not allowed:
            return status(403, "Forbidden", forbidden_message(user, attrs))
        return None

    # ---- resources ------------------------------------------------------------------

    @staticmethod
    def _verb(request: web.Request, name: str) -> str | None:
        if request.query.get("watch") in ("true", "1"):
            return None
        return "get" if name else "list"

    async def _pods(self, request: web.Request) -> web.Response:
        namespace = request.match_info.get("namespace", "")
        name = request.match_info.get("name", "")
        return await self._serve(request, "pods", namespace, name)

    async def _nodes(self, request: web.Request) -> web.Response:
        return await self._serve(request, "nodes", "", request.match_info.get("name", ""))

    async def _serve(self, request: web.Request, resource: str, namespace: str,
                     name: str) -> web.Response:
        verb = self._verb(request, name)
        if verb is None:
            return status(405, "MethodNotAllowed", "watch is not supported")
        denied = await self._authorize(request, Attributes(verb, resource, namespace, name))
        if denied is not None:
            return denied
        try:
            selector = parse_selector(request.query.get("labelSelector"))
        except SelectorError as err:
            return status(400, "BadRequest", str(err))
        tenant = request[TENANT_KEY]
        if resource == "pods":
            items = views.pod_metrics(tenant, self.source, namespace=namespace, name=name,
                                      selector=selector)
        else:
            items = views.node_metrics(tenant, self.source, name=name, selector=selector)
        kind = "PodMetrics" if resource == "pods" else "NodeMetrics"
        if not name:
            return ok(metrics_list(f"{kind}List", items))
        if not items:
            return status(404, "NotFound", f'{resource}.metrics.k8s.io "{name}" not found')
        return ok(items[0])

    # ---- custom.metrics.k8s.io --------------------------------------------------------

    async def _custom_resources(self, request: web.Request) -> web.Response:
        tenant: TenantConn = request[TENANT_KEY]
        names = self.metric_names.names(tenant.name, self.series.version,
                                        lambda: custom.metric_names(tenant, self.series))
        return ok(custom.resource_list(names))

    async def _custom(self, request: web.Request) -> web.Response:
        """Pods' own metrics: ``namespaces/{ns}/pods/{name|*}/{metric}``."""
        namespace, name = request.match_info["namespace"], request.match_info["name"]
        metric = request.match_info["metric"]
        attrs = Attributes("get", "pods", namespace, name, custom.GROUP, custom.VERSION, metric)
        denied = await self._authorize(request, attrs)
        if denied is not None:
            return denied
        try:
            selector = parse_selector(request.query.get("labelSelector"))
            metric_selector = parse_selector(request.query.get("metricLabelSelector"))
        except SelectorError as err:
            return status(400, "BadRequest", str(err))
        items = custom.pod_metric_values(request[TENANT_KEY], self.series, namespace=namespace,
                                         name=name, metric=metric, selector=selector,
                                         metric_selector=metric_selector)
        if name != "*" and not items:
            return status(404, "NotFound", f'the metric "{metric}" of pod "{name}" was not found')
        return ok(custom.value_list(items))
