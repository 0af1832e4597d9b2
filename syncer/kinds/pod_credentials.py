"""No edge credential in an edge pod, and no tenant token on an edge (pure).

- ``automountServiceAccountToken`` is always false on the edge copy: the edge
  would mount its own ServiceAccount token and CA, with which the pod could
  authenticate to the shared edge apiserver.
- The volume the tenant's ServiceAccount admission injects (``kube-api-access-*``:
  the tenant's token, ``kube-root-ca.crt``, the namespace) is removed with its
  mounts, as before.
- Any other projected volume keeps its configMap/secret/downwardAPI/clusterTrustBundle
  sources and loses only its ``serviceAccountToken`` sources and the
  ``kube-root-ca.crt`` ConfigMap (which on the edge holds the edge's CA); a volume
  left with no source is removed with its mounts.

Not done here (issue 18, item 2): giving the pod its own tenant's token
(TokenRequest in the tenant) and a way to reach its tenant apiserver.
"""

from __future__ import annotations

from syncer.kinds.dependents import ROOT_CA_CONFIGMAP
from syncer.kube import Obj

TOKEN_VOLUME_PREFIX = "kube-api-access-"
CONTAINER_GROUPS = ("initContainers", "containers", "ephemeralContainers")


def _edge_credential(source: Obj) -> bool:
    return "serviceAccountToken" in source or (
        (source.get("configMap") or {}).get("name") == ROOT_CA_CONFIGMAP)


def _has_token(volume: Obj) -> bool:
    return any("serviceAccountToken" in s
               for s in (volume.get("projected") or {}).get("sources") or [])


def _without_credentials(volume: Obj) -> Obj | None:
    """The volume without token sources (None: nothing left, or the injected token volume)."""
    if not _has_token(volume):
        return volume
    if volume["name"].startswith(TOKEN_VOLUME_PREFIX):
        return None
    projected = volume["projected"]
    kept = [s for s in projected.get("sources") or [] if not _edge_credential(s)]
    if not kept:
        return None
    return {**volume, "projected": {**projected, "sources": kept}}


def strip_edge_credentials(spec: Obj) -> None:
    """Rewrites a pod spec (a copy, already) so no token or CA reaches or comes from an edge."""
    spec["automountServiceAccountToken"] = False
    volumes = spec.get("volumes")
    if not volumes:
        return
    kept = [v for v in (_without_credentials(v) for v in volumes) if v is not None]
    dropped = {v["name"] for v in volumes} - {v["name"] for v in kept}
    spec["volumes"] = kept
    if not dropped:
        return
    for group in CONTAINER_GROUPS:
        for container in spec.get(group) or []:
            mounts = container.get("volumeMounts")
            if mounts:
                container["volumeMounts"] = [m for m in mounts if m["name"] not in dropped]
