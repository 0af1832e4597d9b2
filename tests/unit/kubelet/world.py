"""Tenants and an edge in fusionvc's caches, for the kubelet endpoint's tests.

tenant-a has pod web/p (uid-a, container main, debug container dbg) on its
virtual node of edge-1, whose copy is in tenant-a's edge namespace; tenant-b
has a pod of the same name.
"""

from __future__ import annotations

from typing import Any

from syncer.core import markers
from syncer.core.names import edge_namespace, virtual_node_name
from syncer.fleet.conn import EdgeConn, TenantConn
from syncer.kube.apis import NODES, PODS
from syncer.kube.informer import Informer
from syncer.kube.store import Store

Obj = dict[str, Any]
VNODE = virtual_node_name("edge-1", "n1")


def cached_conn(cls: type[Any], name: str, objs: dict[str, list[Obj]], **extra: Any) -> Any:
    conn = cls(name, "tenant" if cls is TenantConn else "edge", client=None, **extra)
    for rt in (PODS, NODES):
        store = Store()
        for obj in objs.get(rt.plural, []):
            store.upsert(obj)
        conn.informers[rt.plural] = Informer(None, rt, store)  # type: ignore[arg-type]
    return conn


def tenant_pod(ns: str, name: str, uid: str, node: str = VNODE, **meta: Any) -> Obj:
    return {"metadata": {"namespace": ns, "name": name, "uid": uid, **meta},
            "spec": {"nodeName": node, "containers": [{"name": "main"}],
                     "ephemeralContainers": [{"name": "dbg"}]}}


World = tuple[dict[str, TenantConn], dict[str, EdgeConn]]


def kubelet_world(edge_copy_uid: str = "uid-a") -> World:
    vnode = {"metadata": {"name": VNODE, "labels": markers.marker_labels("tenant-a") | {
        markers.MANAGED_BY: markers.MANAGED_BY_VALUE},
        "annotations": {markers.EDGE_CLUSTER: "edge-1", markers.EDGE_NODE: "n1"}}}
    a = cached_conn(TenantConn, "tenant-a", {"pods": [tenant_pod("web", "p", "uid-a")],
                                             "nodes": [vnode]}, uid="ta")
    b = cached_conn(TenantConn, "tenant-b", {"pods": [tenant_pod("web", "q", "uid-b")],
                                             "nodes": [vnode]}, uid="tb")
    ens = edge_namespace("tenant-a", "ta", "web")
    copy = {"metadata": {"namespace": ens, "name": "p", "labels": markers.marker_labels(
        "tenant-a"), "annotations": {markers.TENANT_NAMESPACE: "web", markers.TENANT_NAME: "p",
                                     markers.TENANT_UID: edge_copy_uid}}, "spec": {}}
    edge = cached_conn(EdgeConn, "edge-1", {"pods": [copy]})
    return {"tenant-a": a, "tenant-b": b}, {"edge-1": edge}


