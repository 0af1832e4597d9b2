"""What a pod reads about itself and its API server is its tenant's (pure).

On the edge, the downward API, ServiceAccount tokens and the ``kube-root-ca.crt``
ConfigMap would give the edge's values: the edge pod's UID and namespace, labels
with fusionvc's markers, an edge token and the edge CA. Instead each edge pod
that needs a tenant value gets one Secret of its own in the edge namespace
(``fusionvc-pod-<hash of the tenant pod UID>``, written by ``pod_secrets.py``),
and its volumes read that Secret where they read those sources:

- a projected ``serviceAccountToken`` source becomes a ``secret`` source of the
  key holding a token the TENANT's apiserver issued (TokenRequest for the pod's
  ServiceAccount, bound to the tenant pod, the audience and expiry the source asks);
- the ``kube-root-ca.crt`` ConfigMap (projected or a volume of its own) becomes the
  Secret's ``ca.crt``: the tenant's CA;
- downward API items whose value differs on the edge (``metadata.uid``,
  ``metadata.namespace``, labels, annotations, one label or annotation) become
  Secret items holding the tenant pod's value; a ``downwardAPI`` volume holding one
  becomes a projected volume. ``metadata.name`` and ``resourceFieldRef`` stay.

A pod that gets a tenant token also gets the ``KUBERNETES_SERVICE_*`` and
``KUBERNETES_PORT*`` variables of its tenant's apiserver address (ahead of its own
env, so a value the tenant sets wins), in place of those the edge kubelet injects.
Env ``fieldRef`` values are rewritten as literals (``tenant_field_value``).
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass

from syncer.core.names import short_hash
from syncer.kinds.dependents import POD_SECRET_PREFIX, ROOT_CA_CONFIGMAP
from syncer.kube import Obj

CA_KEY = "ca.crt"
DEFAULT_EXPIRATION = 3600  # seconds, as the API's default for a projected token
SAME_ON_EDGE = frozenset({"metadata.name"})  # downward fields whose edge value is the tenant's
CONTAINER_GROUPS = ("initContainers", "containers", "ephemeralContainers")


@dataclass(frozen=True)
class TokenWant:
    """One token a pod's volumes ask for."""

    audience: str  # "" : the tenant apiserver's own audience
    expiration: int

    @property
    def key(self) -> str:
        return "token." + short_hash(f"{self.audience}|{self.expiration}", 12)


@dataclass(frozen=True)
class PodAPIAccess:
    """Where the pod's Secret is and how in-pod clients reach the tenant's apiserver."""

    secret: str
    host: str
    port: int


@functools.lru_cache(maxsize=32_768)  # a sha256 per call, asked per edge in every reconcile
def pod_secret_name(tenant_pod_uid: str) -> str:
    return f"{POD_SECRET_PREFIX}{short_hash(tenant_pod_uid, 16)}"


def field_key(path: str) -> str:
    return f"field.{short_hash(path, 12)}"


def _token_want(source: Obj) -> TokenWant:
    return TokenWant(str(source.get("audience") or ""),
                     int(source.get("expirationSeconds") or DEFAULT_EXPIRATION))


def _sources(volume: Obj) -> list[Obj]:
    return list((volume.get("projected") or {}).get("sources") or [])


def _downward_items(volume_or_source: Obj) -> list[Obj]:
    return list((volume_or_source.get("downwardAPI") or {}).get("items") or [])


def _tenant_valued(item: Obj) -> bool:
    path = (item.get("fieldRef") or {}).get("fieldPath")
    return bool(path) and path not in SAME_ON_EDGE


def wanted_tokens(pod: Obj) -> set[TokenWant]:
    return {_token_want(s["serviceAccountToken"]) for v in pod["spec"].get("volumes") or []
            for s in _sources(v) if "serviceAccountToken" in s}


def _is_root_ca(volume_or_source: Obj) -> bool:
    return (volume_or_source.get("configMap") or {}).get("name") == ROOT_CA_CONFIGMAP


def wants_ca(pod: Obj) -> bool:
    return any(_is_root_ca(v) or any(_is_root_ca(s) for s in _sources(v))
               for v in pod["spec"].get("volumes") or [])


def tenant_field_paths(pod: Obj) -> set[str]:
    """Downward API fields of volumes whose value the pod's Secret holds."""
    paths: set[str] = set()
    for volume in pod["spec"].get("volumes") or []:
        items = _downward_items(volume) + [i for s in _sources(volume)
                                           for i in _downward_items(s)]
        paths.update(i["fieldRef"]["fieldPath"] for i in items if _tenant_valued(i))
    return paths


def needs_pod_secret(pod: Obj) -> bool:
    """``wanted_tokens or wants_ca or tenant_field_paths``, in one walk that stops at the
    first need: asked on every event of every tenant pod."""
    for volume in pod["spec"].get("volumes") or []:
        if _is_root_ca(volume) or any(_tenant_valued(i) for i in _downward_items(volume)):
            return True
        for source in _sources(volume):
            if "serviceAccountToken" in source or _is_root_ca(source) or any(
                    _tenant_valued(i) for i in _downward_items(source)):
                return True
    return False


def _format_map(values: dict[str, str]) -> str:
    """As the kubelet writes labels and annotations: sorted ``key="value"`` lines."""
    return "\n".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in sorted(values.items()))


def tenant_field_value(pod: Obj, path: str, virtual_node: str = "") -> str | None:
    """The value a downward API field has for the tenant pod (None: the same on the edge)."""
    meta = pod["metadata"]
    for kind in ("labels", "annotations"):
        if path == f"metadata.{kind}":
            return _format_map(meta.get(kind) or {})
        prefix = f"metadata.{kind}['"
        if path.startswith(prefix) and path.endswith("']"):
            return str((meta.get(kind) or {}).get(path[len(prefix):-2], ""))
    values = {"metadata.namespace": meta.get("namespace", ""),
              "metadata.uid": meta.get("uid") or None,
              "spec.nodeName": virtual_node or None,
              "spec.serviceAccountName": pod["spec"].get("serviceAccountName") or "default"}
    value = values.get(path)
    return None if value is None else str(value)


# ---- the edge pod's volumes -------------------------------------------------------------

def _secret_source(secret: str, items: list[Obj]) -> Obj:
    return {"secret": {"name": secret, "items": items}}


def _item(key: str, path: str, mode: object = None) -> Obj:
    return {"key": key, "path": path, **({"mode": mode} if mode is not None else {})}


def _ca_items(config_map: Obj) -> list[Obj]:
    items = [i for i in config_map.get("items") or [] if i.get("key") == CA_KEY]
    return [_item(CA_KEY, i["path"], i.get("mode")) for i in items] or [_item(CA_KEY, CA_KEY)]


def _split_downward(items: list[Obj], secret: str) -> list[Obj]:
    """A downwardAPI source as sources: the items kept, and a secret source for the rest."""
    kept = [i for i in items if not _tenant_valued(i)]
    moved = [_item(field_key(i["fieldRef"]["fieldPath"]), i["path"], i.get("mode"))
             for i in items if _tenant_valued(i)]
    return ([{"downwardAPI": {"items": kept}}] if kept else []) + \
        ([_secret_source(secret, moved)] if moved else [])


def _project_source(source: Obj, secret: str) -> list[Obj]:
    if "serviceAccountToken" in source:
        token = source["serviceAccountToken"]
        return [_secret_source(secret, [_item(_token_want(token).key, token["path"])])]
    if _is_root_ca(source):
        return [_secret_source(secret, _ca_items(source["configMap"]))]
    if "downwardAPI" in source:
        return _split_downward(_downward_items(source), secret)
    return [source]


def _project_volume(volume: Obj, secret: str) -> Obj:
    if "projected" in volume:
        sources = [out for s in _sources(volume) for out in _project_source(s, secret)]
        return {**volume, "projected": {**volume["projected"], "sources": sources}}
    if _is_root_ca(volume):
        config_map = volume["configMap"]
        mode = {"defaultMode": config_map["defaultMode"]} if "defaultMode" in config_map else {}
        return {"name": volume["name"], "secret": {"secretName": secret,
                                                   "items": _ca_items(config_map), **mode}}
    items = _downward_items(volume)
    if items and any(_tenant_valued(i) for i in items):
        downward = volume["downwardAPI"]
        mode = {"defaultMode": downward["defaultMode"]} if "defaultMode" in downward else {}
        return {"name": volume["name"],
                "projected": {"sources": _split_downward(items, secret), **mode}}
    return volume


def project_pod_secret(spec: Obj, pod: Obj, access: PodAPIAccess) -> None:
    """Rewrites an edge pod spec (a copy, already) to read the pod's Secret where the
    tenant pod reads a token, the CA or a tenant-valued downward field."""
    if not needs_pod_secret(pod):
        return
    spec["volumes"] = [_project_volume(v, access.secret) for v in spec.get("volumes") or []]
    if wanted_tokens(pod):
        env = api_server_env(access.host, access.port)
        for group in CONTAINER_GROUPS:
            for container in spec.get(group) or []:
                container["env"] = [*env, *(container.get("env") or [])]


def api_server_env(host: str, port: int) -> list[Obj]:
    """The variables in-pod clients (client-go's InClusterConfig) find their apiserver by."""
    url = f"tcp://[{host}]:{port}" if ":" in host else f"tcp://{host}:{port}"
    values = {"KUBERNETES_SERVICE_HOST": host, "KUBERNETES_SERVICE_PORT": str(port),
              "KUBERNETES_SERVICE_PORT_HTTPS": str(port), "KUBERNETES_PORT": url,
              "KUBERNETES_PORT_443_TCP": url, "KUBERNETES_PORT_443_TCP_PROTO": "tcp",
              "KUBERNETES_PORT_443_TCP_PORT": str(port), "KUBERNETES_PORT_443_TCP_ADDR": host}
    return [{"name": k, "value": v} for k, v in values.items()]
