"""What the edge refuses, said to the tenant, and not asked again until the pod changes.

A pod that passes fusionvc's own checks can still be refused by the edge
apiserver (a RuntimeClass it lacks, an admission plugin, a size limit). Such a
refusal is permanent for that version of the pod: retrying it would only loop.
The pod syncer turns it into ``PodScheduled=False`` (reason ``EdgeRefused``) and
one Warning Event, with the edge's reason in tenant terms (the edge namespace
replaced by the tenant's, no edge URL), and ``RefusedVersions`` remembers it
until the pod's generation, labels or annotations change (creates and in-place updates
are remembered apart).

Pure helpers plus one bounded in-memory memory; the pod syncer does the I/O.
"""

from __future__ import annotations

import hashlib
import re

import orjson
from cachetools import TTLCache

from syncer.kube import Obj
from syncer.kube.client import KubeError

EDGE_REFUSED = "EdgeRefused"
# kube-apiserver's limit on the total size of an object's annotations (keys + values).
ANNOTATIONS_LIMIT = 256 * 1024
# 4xx that say "not now" rather than "never": conflicts, throttling, timeouts, a namespace
# that is being created or removed.
TRANSIENT_STATUS = frozenset({404, 408, 409, 429})
TRANSIENT_WORDS = ("exceeded quota", "being terminated", "not found in namespace")
QUOTA_RETRY_SECONDS = 30.0
_URL = re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s\"',)]+", re.IGNORECASE)


# A new edge namespace gets its default ServiceAccount from the edge's controller-manager
# moments after the namespace (later while that controller-manager reconnects): a race the
# work queue's backoff resolves, not a refusal to report.
RACES = ("error looking up service account",)


def is_refusal(err: KubeError) -> bool:
    """An edge 4xx that the same pod will get again: the tenant must be told."""
    return (400 <= err.status < 500 and err.status not in TRANSIENT_STATUS
            and not any(race in err.message for race in RACES))


def is_quota_refusal(err: KubeError) -> bool:
    """Refused for room (a ResourceQuota): told to the tenant, and tried again later."""
    return err.status == 403 and "exceeded quota" in err.message


def is_permanent(err: KubeError) -> bool:
    return is_refusal(err) and not any(w in err.message for w in TRANSIENT_WORDS)


def tenant_terms(message: str, *, edge_namespace: str, tenant_namespace: str,
                 edge_cluster: str) -> str:
    """The edge's message without the edge's names for things: its namespace becomes the
    tenant's, URLs and the edge cluster's name are cut out."""
    text = message.replace(edge_namespace, tenant_namespace)
    text = _URL.sub("<edge>", text)
    if edge_cluster:
        text = re.sub(rf"\b{re.escape(edge_cluster)}\b", "<edge cluster>", text)
    return text


def refusal_message(err: KubeError, *, edge_namespace: str, tenant_namespace: str,
                    edge_cluster: str) -> str:
    detail = tenant_terms(err.message or err.reason, edge_namespace=edge_namespace,
                          tenant_namespace=tenant_namespace, edge_cluster=edge_cluster)
    return f"the edge cluster refused this pod ({err.reason or err.status}): {detail}"


def update_refusal_message(err: KubeError) -> str:
    """An edge refusal of an in-place update in tenant terms: its reason, without the edge's
    names for things."""
    detail = err.message.split(": ", 1)[-1] if ": " in err.message else err.message
    return f"the edge cluster refused this change ({err.reason or err.status}): {detail}"


def annotations_size(obj: Obj) -> int:
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    return sum(len(k.encode()) + len(str(v).encode()) for k, v in annotations.items())


def oversized_annotations(edge_pod: Obj) -> str | None:
    """Why the edge would refuse the copy's annotations (fusionvc's markers included), or None."""
    size = annotations_size(edge_pod)
    if size <= ANNOTATIONS_LIMIT:
        return None
    return (f"metadata.annotations: {size} bytes once fusionvc's markers are added, over the "
            f"{ANNOTATIONS_LIMIT}-byte limit of the edge cluster; shorten the pod's annotations")


def pod_version(pod: Obj) -> tuple[str, str]:
    """What identifies one version of a pod for refusals: its UID, and a digest of its
    generation (spec changes), labels and annotations (metadata changes)."""
    meta = pod["metadata"]
    digest = hashlib.sha256(orjson.dumps(
        [meta.get("generation"), meta.get("labels") or {}, meta.get("annotations") or {}],
        option=orjson.OPT_SORT_KEYS)).hexdigest()
    return meta.get("uid", ""), digest


class RefusedVersions:
    """Versions of pods the edge refused (to create, or to update in place): not tried
    again until they change."""

    def __init__(self, maxsize: int = 50_000, ttl: float = 24 * 3600) -> None:
        self._refused: TTLCache[tuple[str, str], bool] = TTLCache(maxsize=maxsize, ttl=ttl)

    def remember(self, pod: Obj) -> None:
        self._refused[pod_version(pod)] = True

    # Nothing refused is the usual case: no digest of the pod's labels and annotations then
    # (a sha256 over their JSON for every pod placed and every update of its copy).
    def refused(self, pod: Obj) -> bool:
        return bool(self._refused) and pod_version(pod) in self._refused
