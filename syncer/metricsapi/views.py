"""What one tenant may see: its pods' and virtual nodes' metrics, from the syncer's caches.

Reads only the tenant's own pod and node caches, so another tenant's pods never
enter an answer: a pod's usage is looked up under the edge copy of *this* tenant's
pod (edge cluster from the pod's placement annotation, edge namespace from the
naming contract), and a virtual node's usage sums this tenant's pods on it.
"""

from __future__ import annotations

from collections.abc import Iterable

from syncer.fleet.conn import TenantConn
from syncer.kube import Obj
from syncer.kube.apis import NODES, PODS
from syncer.metricsapi.edge_source import EdgeMetricsSource
from syncer.metricsapi.selector import Matcher
from syncer.metricsapi.translate import (
    GROUP_VERSION,
    PodUsage,
    tenant_node_metrics,
    tenant_pod_metrics,
)
from syncer.podmetrics.tenant_pods import edge_pod_key


def _usage_of(tenant: TenantConn, source: EdgeMetricsSource, pod: Obj,
              namespaces: dict[str, str]) -> PodUsage | None:
    key = edge_pod_key(tenant, pod, namespaces)
    return source.usage(*key) if key is not None else None


def candidate_pods(tenant: TenantConn, namespace: str, name: str) -> Iterable[Obj]:
    store = tenant.store(PODS)
    if name:
        pod = store.get(namespace, name)
        return [pod] if pod is not None else []
    if namespace:
        return (p for p in store if p["metadata"].get("namespace") == namespace)
    return iter(store)


def pod_metrics(tenant: TenantConn, source: EdgeMetricsSource, *, namespace: str = "",
                name: str = "", selector: Matcher | None = None) -> list[Obj]:
    """PodMetrics of the tenant's measured pods matching namespace, name and selector."""
    items: list[Obj] = []
    namespaces: dict[str, str] = {}
    for pod in candidate_pods(tenant, namespace, name):
        if selector is not None and not selector(pod["metadata"].get("labels") or {}):
            continue
        usage = _usage_of(tenant, source, pod, namespaces)
        if usage is not None:
            items.append(tenant_pod_metrics(pod, usage))
    return items


def node_metrics(tenant: TenantConn, source: EdgeMetricsSource, *, name: str = "",
                 selector: Matcher | None = None) -> list[Obj]:
    """NodeMetrics of the tenant's virtual nodes: sums over its own pods on each."""
    by_node: dict[str, list[PodUsage]] = {}
    namespaces: dict[str, str] = {}
    for pod in tenant.store(PODS):
        node = pod["spec"].get("nodeName")
        if not node or (name and node != name):
            continue
        usage = _usage_of(tenant, source, pod, namespaces)
        if usage is not None:
            by_node.setdefault(node, []).append(usage)
    nodes = tenant.store(NODES)
    items = []
    for node_name in sorted(by_node):
        node = nodes.get("", node_name)
        if node is None or (selector is not None
                            and not selector(node["metadata"].get("labels") or {})):
            continue
        item = tenant_node_metrics(node, by_node[node_name])
        if item is not None:
            items.append(item)
    return items


def _resource(name: str, kind: str, namespaced: bool) -> Obj:
    return {"name": name, "singularName": "", "namespaced": namespaced, "kind": kind,
            "verbs": ["get", "list"]}


def resource_list() -> Obj:
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": GROUP_VERSION,
            "resources": [_resource("nodes", "NodeMetrics", False),
                          _resource("pods", "PodMetrics", True)]}


def api_group() -> Obj:
    version = {"groupVersion": GROUP_VERSION, "version": "v1beta1"}
    return {"kind": "APIGroup", "apiVersion": "v1", "name": "metrics.k8s.io",
            "versions": [version], "preferredVersion": version}


def api_group_list() -> Obj:
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [api_group()]}
