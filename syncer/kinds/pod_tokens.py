"""Tenant tokens and the pod Secret's content (see pod_projection for where they are read).

- ``request_token``: a TokenRequest against the TENANT's apiserver for the pod's
  ServiceAccount, bound to the tenant pod (its name and UID), with the audience
  and expiry the pod's projected source asks. The tenant apiserver signs it, so
  it is valid there and nowhere else (an edge apiserver rejects it), and it dies
  with the tenant pod.
- ``refresh_at``: when a token is renewed, as the kubelet does: after 80% of its
  lifetime, and at least once a day.
- ``translate_pod_secret`` (pure): the edge Secret holding the tokens, the tenant's
  CA and the tenant values of downward API fields. It is not a copy of a tenant
  object: fusionvc's managed-by label, ``fusionvc.io/pod-secret-of: <tenant>`` and
  an annotation naming the tenant pod, so the Secret copies (``secrets.py``)
  neither index, adopt nor remove it. Owned by the edge pod from the first write
  after that pod exists (a token renewal, a changed value): see pod_secrets.
"""

from __future__ import annotations

import base64
import datetime as dt
import time
from collections.abc import Mapping

from syncer.core import markers
from syncer.kinds.pod_projection import (
    CA_KEY,
    TokenWant,
    field_key,
    tenant_field_paths,
    tenant_field_value,
)
from syncer.kube import Obj

SECRET_OF = "fusionvc.io/pod-secret-of"  # label: the tenant
POD_OF_SECRET = "fusionvc.io/pod-secret-for"  # annotation: "<namespace>/<name>/<uid>"
REFRESH_AT = "fusionvc.io/tokens-refresh-at"  # annotation: unix seconds
REFRESH_FRACTION = 0.8
MAX_TOKEN_AGE = 24 * 3600.0
SECRET_TYPE = "Opaque"


def refresh_at(issued: float, expires: float) -> float:
    """When a token issued at ``issued`` and valid until ``expires`` is renewed."""
    return issued + min(REFRESH_FRACTION * max(expires - issued, 0.0), MAX_TOKEN_AGE)


def token_request(pod: Obj, want: TokenWant) -> Obj:
    meta = pod["metadata"]
    return {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
            "spec": {"audiences": [want.audience] if want.audience else [],
                     "expirationSeconds": want.expiration,
                     "boundObjectRef": {"apiVersion": "v1", "kind": "Pod",
                                        "name": meta["name"], "uid": meta["uid"]}}}


def token_path(pod: Obj) -> str:
    """The ``token`` subresource of the pod's ServiceAccount in the tenant apiserver."""
    account = pod["spec"].get("serviceAccountName") or "default"
    return f"/api/v1/namespaces/{pod['metadata']['namespace']}/serviceaccounts/{account}/token"


def token_from(response: Obj, issued: float) -> tuple[str, float]:
    """(token, when to renew it) from a TokenRequest answer."""
    status = response["status"]
    expires = dt.datetime.fromisoformat(status["expirationTimestamp"]).timestamp()
    return str(status["token"]), refresh_at(issued, expires)


def now() -> float:
    return time.time()


def pod_of_secret(secret: Obj) -> tuple[str, str, str, str] | None:
    """(tenant, namespace, name, uid) of the tenant pod an edge pod Secret is for."""
    meta = secret.get("metadata") or {}
    tenant = (meta.get("labels") or {}).get(SECRET_OF)
    ref = str((meta.get("annotations") or {}).get(POD_OF_SECRET, "")).split("/")
    if not tenant or not markers.is_managed(secret) or len(ref) != 3:
        return None
    return str(tenant), ref[0], ref[1], ref[2]


def pod_secret_index_value(tenant: str, namespace: str, name: str) -> str:
    return f"{tenant}/{namespace}/{name}"


def pod_secret_index(secret: Obj) -> list[str]:
    """Index of edge pod Secrets by "<tenant>/<tenant namespace>/<tenant pod name>"."""
    found = pod_of_secret(secret)
    return [pod_secret_index_value(*found[:3])] if found else []


def secret_refresh_at(secret: Obj) -> float:
    value = (secret["metadata"].get("annotations") or {}).get(REFRESH_AT, "")
    try:
        return float(value)
    except ValueError:
        return 0.0


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def decoded(secret: Obj, key: str) -> str | None:
    value = (secret.get("data") or {}).get(key)
    return base64.b64decode(value).decode() if isinstance(value, str) else None


def translate_pod_secret(pod: Obj, *, name: str, tenant: str, edge_namespace: str,
                         tokens: Mapping[str, str], ca: str | None, refresh: float,
                         owner: Obj | None = None) -> Obj:
    """The edge Secret of one tenant pod: its tokens (by TokenWant.key), the tenant's CA,
    and the tenant values of the downward API fields its volumes read."""
    meta = pod["metadata"]
    data = {key: _b64(token) for key, token in tokens.items()}
    if ca is not None:
        data[CA_KEY] = _b64(ca)
    for path in tenant_field_paths(pod):
        data[field_key(path)] = _b64(tenant_field_value(pod, path) or "")
    out: Obj = {
        "apiVersion": "v1", "kind": "Secret", "type": SECRET_TYPE,
        "metadata": {"name": name, "namespace": edge_namespace,
                     "labels": {markers.MANAGED_BY: markers.MANAGED_BY_VALUE,
                                SECRET_OF: tenant},
                     "annotations": {
                         POD_OF_SECRET: f"{meta['namespace']}/{meta['name']}/{meta['uid']}",
                         REFRESH_AT: f"{refresh:.0f}"}},
        "data": data}
    if owner is not None:
        out["metadata"]["ownerReferences"] = [{
            "apiVersion": "v1", "kind": "Pod", "name": owner["metadata"]["name"],
            "uid": owner["metadata"]["uid"]}]
    return out


def secret_differs(have: Obj, want: Obj, *, owner: bool = True) -> bool:
    """Whether ``have`` lacks something ``want`` holds; a missing or other owner counts
    only with ``owner``."""
    hm, wm = have["metadata"], want["metadata"]
    return (have.get("data") != want.get("data") or have.get("type") != want.get("type")
            or (hm.get("labels") or {}) != wm["labels"]
            or any((hm.get("annotations") or {}).get(k) != v
                   for k, v in wm["annotations"].items())
            or (owner and wm.get("ownerReferences") is not None
                and hm.get("ownerReferences") != wm["ownerReferences"]))
