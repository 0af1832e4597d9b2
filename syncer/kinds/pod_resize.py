"""In-place resize of a running pod: the tenant's new container resources on the edge pod.

A tenant that changes a running pod's container requests or limits resizes it in
place (``resize`` subresource, KEP-1287). fusionvc carries the change to the edge
pod's own ``resize`` subresource when the resized pod still fits its edge node
(the placer's snapshot says so); otherwise the edge pod is left as it is and the
tenant pod gets the ``PodResizePending`` condition a kubelet would report
(``Infeasible``: never fits that node; ``Deferred``: not now), mirrored up by
``pod_status.py``.

Pure helpers plus the one edge write; the pod syncer (``pods.py``) calls
``carry_resize`` when it keeps a running pod in line.
"""

from __future__ import annotations

from syncer.fleet.conn import EdgeConn
from syncer.kube import Obj
from syncer.kube.apis import PODS
from syncer.kube.client import STRATEGIC_PATCH
from syncer.placement import Placer


def _limits_and_requests(resources: Obj | None) -> Obj:
    return {k: v for k, v in (resources or {}).items() if k in ("requests", "limits") and v}


def resize_patch(edge_pod: Obj, desired: Obj) -> Obj | None:
    """Container resources the tenant resized, as a patch of the ``resize`` subresource."""
    have = {c["name"]: c.get("resources") for c in edge_pod["spec"].get("containers") or []}
    changed = [{"name": c["name"], "resources": c.get("resources") or {}}
               for c in desired["spec"].get("containers") or []
               if c["name"] in have and _limits_and_requests(have[c["name"]])
               != _limits_and_requests(c.get("resources"))]
    return {"spec": {"containers": changed}} if changed else None


def resized_pod(edge_pod: Obj, patch: Obj) -> Obj:
    """The edge pod as it would be once ``patch`` (a ``resize_patch``) is applied."""
    return {**edge_pod, "spec": {**edge_pod["spec"], "containers": [
        {**c, **next((p for p in patch["spec"]["containers"] if p["name"] == c["name"]),
                     {})} for c in edge_pod["spec"]["containers"]]}}


def resize_pending(shortfall: tuple[str, str]) -> Obj:
    """The kubelet's PodResizePending condition for a (reason, message) shortfall."""
    return {"type": "PodResizePending", "status": "True", "reason": shortfall[0],
            "message": shortfall[1]}


async def carry_resize(placer: Placer, edge: EdgeConn, epod: Obj, desired: Obj) -> Obj | None:
    """Carries an in-place resize to the edge pod when it fits its node; else the
    PodResizePending condition the kubelet would report (Infeasible or Deferred)."""
    patch = resize_patch(epod, desired)
    if patch is None:
        return None
    shortfall = placer.resize_shortfall(edge.name, epod, resized_pod(epod, patch))
    if shortfall is not None:
        return resize_pending(shortfall)
    await edge.client.patch(PODS, epod["metadata"]["name"], patch, subresource="resize",
                            namespace=epod["metadata"]["namespace"],
                            content_type=STRATEGIC_PATCH)
    return None
