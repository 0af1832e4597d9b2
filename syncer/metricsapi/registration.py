"""The APIServices ``v1beta1.metrics.k8s.io`` and ``v1beta2.custom.metrics.k8s.io`` in tenants.

It points at the ExternalName Service ``kube-system/fusionvc-metrics-api`` whose
``externalName`` is where tenant apiservers reach the syncer's metrics API
(``--metrics-api-advertise-host``; the aggregator dials externalName:port). With a
CA (``--metrics-api-ca-file``) the APIService pins it; without one it skips TLS
verification. An APIService of that name not marked as fusionvc's is left alone.
"""

from __future__ import annotations

import base64

import structlog

from syncer.core import markers
from syncer.fleet.conn import TenantConn
from syncer.kube import Obj
from syncer.kube.apis import SERVICES, ResourceType
from syncer.kube.client import KubeError

log = structlog.get_logger(__name__)
APISERVICES = ResourceType("apiregistration.k8s.io", "v1", "apiservices", "APIService",
                           namespaced=False)
APISERVICE_NAME = "v1beta1.metrics.k8s.io"
SERVICE_NAMESPACE = "kube-system"
SERVICE_NAME = "fusionvc-metrics-api"


def _apiservice(group: str, version: str, port: int, ca_pem: bytes | None) -> Obj:
    labels = {markers.MANAGED_BY: markers.MANAGED_BY_VALUE}
    spec: Obj = {"group": group, "version": version,
                 "service": {"namespace": SERVICE_NAMESPACE, "name": SERVICE_NAME, "port": port},
                 "groupPriorityMinimum": 100, "versionPriority": 100}
    if ca_pem:
        spec["caBundle"] = base64.b64encode(ca_pem).decode()
    else:
        spec["insecureSkipTLSVerify"] = True
    return {"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
            "metadata": {"name": f"{version}.{group}", "labels": labels}, "spec": spec}


def desired_objects(host: str, port: int, ca_pem: bytes | None) -> tuple[Obj, Obj]:
    """(Service, APIService of metrics.k8s.io) as fusionvc wants them in a tenant (pure)."""
    labels = {markers.MANAGED_BY: markers.MANAGED_BY_VALUE}
    service: Obj = {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": SERVICE_NAME, "namespace": SERVICE_NAMESPACE, "labels": labels},
        "spec": {"type": "ExternalName", "externalName": host,
                 # targetPort as the API server defaults it: otherwise the stored Service
                 # never equals this one, and every registration pass rewrote it.
                 "ports": [{"name": "https", "port": port, "protocol": "TCP",
                            "targetPort": port}]},
    }
    return service, _apiservice("metrics.k8s.io", "v1beta1", port, ca_pem)


def custom_metrics_apiservice(port: int, ca_pem: bytes | None) -> Obj:
    """APIService ``v1beta2.custom.metrics.k8s.io`` (pods' own metrics), same Service."""
    return _apiservice("custom.metrics.k8s.io", "v1beta2", port, ca_pem)


def needs_write(have: Obj | None, want: Obj) -> bool:
    if have is None:
        return True
    labels = have["metadata"].get("labels") or {}
    return bool(labels.get(markers.MANAGED_BY) == markers.MANAGED_BY_VALUE
                and any(have["spec"].get(k) != v for k, v in want["spec"].items()))


async def _apply(tenant: TenantConn, rt: ResourceType, want: Obj) -> None:
    namespace = want["metadata"].get("namespace")
    try:
        have: Obj | None = await tenant.client.get(rt, want["metadata"]["name"], namespace)
    except KubeError as err:
        if not err.not_found:
            raise
        have = None
    if have is None:
        await tenant.client.create(rt, want, namespace)
    elif needs_write(have, want):
        merged = {**want, "metadata": {**want["metadata"],
                                       "resourceVersion": have["metadata"]["resourceVersion"]}}
        await tenant.client.replace(rt, merged)
    elif (have["metadata"].get("labels") or {}).get(markers.MANAGED_BY) != markers.MANAGED_BY_VALUE:
        log.warning("not fusionvc's: left alone", tenant=tenant.name, kind=want["kind"],
                    name=want["metadata"]["name"])


async def ensure_registered(tenant: TenantConn, host: str, port: int,
                            ca_pem: bytes | None) -> None:
    """Creates or repairs the Service and APIService; raises KubeError on failure."""
    service, apiservice = desired_objects(host, port, ca_pem)
    await _apply(tenant, SERVICES, service)
    await _apply(tenant, APISERVICES, apiservice)
    await _apply(tenant, APISERVICES, custom_metrics_apiservice(port, ca_pem))
