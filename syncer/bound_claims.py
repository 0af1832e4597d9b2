"""BoundClaims: the edge claims that make a dataset copy usable, as the placer sees them.

A node counts as ready for an EdgeDataset (``datasetReady``, ImageLocality) only
when both hold: its download pod Succeeded (``warm_nodes``) **and** the copy's
PersistentVolumeClaim that fusionvc writes in the tenant's edge namespace
(``syncer/kinds/dataset_claims.py``) is Bound and not being deleted. A pod placed
there always finds its claim; a node whose claim the edge refused (a quota) or
has not written yet does not count.

A claim counts when it carries fusionvc's markers (the tenant label is fusionvc's,
so a claim only ever makes its own tenant's dataset ready), the EdgeDataset label,
the copy's node annotation and fusionvc's storage class ``fusionvc-dataset``; it can
only be Bound to the PersistentVolume fusionvc pre-bound to it.
"""

from __future__ import annotations

from scheduler.datasets import dataset_image
from syncer.core import markers
from syncer.kube import Obj

# Defined here (syncer.kinds imports the placer, which imports this module), re-exported
# by syncer/kinds/dataset_translate.py and dataset_volumes.py.
DATASET_LABEL = "edge.fusionvc.io/edgedataset"  # on an EdgeDataset's Jobs, PVs and claims
STORAGE_CLASS = "fusionvc-dataset"  # of its PVs and claims


def ready_copy(claim: Obj) -> tuple[str, str] | None:
    """(node, dataset image name) of a Bound dataset claim; None for any other claim."""
    meta = claim.get("metadata") or {}
    tenant, ref = markers.tenant_of(claim), markers.tenant_ref(claim)
    node = (meta.get("annotations") or {}).get(markers.EDGE_NODE)
    if tenant is None or ref is None or not node or meta.get("deletionTimestamp") \
            or DATASET_LABEL not in (meta.get("labels") or {}):
        return None
    if (claim.get("spec") or {}).get("storageClassName") != STORAGE_CLASS or \
            (claim.get("status") or {}).get("phase") != "Bound":
        return None
    return str(node), dataset_image(tenant, ref[0], ref[1])


class BoundClaims:
    """Per edge node, the datasets whose claim there is Bound."""

    def __init__(self) -> None:
        # (cluster, claim namespace, claim name) -> (node, dataset image name)
        self._claims: dict[tuple[str, str, str], tuple[str, str]] = {}
        self._by_node: dict[tuple[str, str], dict[str, int]] = {}  # -> image -> claims

    def claim_event(self, cluster: str, old: Obj | None, new: Obj | None) -> str | None:
        """Records a claim's change; returns its node's name when its datasets changed."""
        claim = new or old
        assert claim is not None
        meta = claim["metadata"]
        key = (cluster, meta.get("namespace", ""), meta["name"])
        before, after = self._claims.get(key), ready_copy(new) if new is not None else None
        if before == after:
            return None
        if before is not None:
            self._drop(cluster, before)
            del self._claims[key]
        if after is not None:
            self._claims[key] = after
            held = self._by_node.setdefault((cluster, after[0]), {})
            held[after[1]] = held.get(after[1], 0) + 1
        changed = after or before
        assert changed is not None
        return changed[0]

    def _drop(self, cluster: str, copy: tuple[str, str]) -> None:
        held = self._by_node.get((cluster, copy[0]), {})
        held[copy[1]] = held.get(copy[1], 1) - 1
        if held[copy[1]] <= 0:
            del held[copy[1]]
        if not held:
            self._by_node.pop((cluster, copy[0]), None)

    def datasets(self, cluster: str, node: str) -> frozenset[str]:
        return frozenset(self._by_node.get((cluster, node), {}))

    def forget_node(self, cluster: str, node: str) -> None:
        self._by_node.pop((cluster, node), None)
        for key in [k for k, v in self._claims.items() if k[0] == cluster and v[0] == node]:
            del self._claims[key]
