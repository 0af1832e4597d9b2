"""ImageLocality (PreScore, Score): prefer nodes that already have the pod's images.

Owns the image preference, in the shape of kube-scheduler's ImageLocality: a
node's raw score is the sum, over the pod's images it reports in
``status.images`` (pre-warmed ones included), of the image's size times the
share of all nodes that have it (an image on one node of many weighs little, so
pods do not all pile onto it). The sum is clamped to [23 MB, ceiling x images]
and scaled to 0..100. kube-scheduler's ceiling is 1000 MB per container; edge
inference images and models are several GB, so the ceiling here is 10 GB per
image: a 7 GB model present everywhere still ranks below a 10 GB one.

Tiers in the style of Fluid: a node without the image but in the same zone (of
the same edge cluster) as a node that has it scores half of the best holder's
score, in the same region a quarter (a nearby peer or cache pulls faster than
the far registry). Ready edge datasets (``scheduler.datasets``) count as images
of the pod, and images and datasets put on a node by fusionvc's finished work
(pre-warm, download) are reported among the node's images by the syncer
(``syncer/warm_nodes.py``).

The nodes per image are indexed once per snapshot layout (node facts, images
included), and the scores of one set of images are a table of the nodes that
have some of them or share their region or zone (written group by group with
``dict.fromkeys``), also kept until the layout changes: a cycle then costs one
C-level lookup per node. A pod whose images no node has is skipped at once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from itertools import repeat
from typing import TypeVar

from ..datasets import pod_datasets
from ..framework import (
    MAX_NODE_SCORE,
    SKIP,
    CycleState,
    PreScorePlugin,
    ScorePlugin,
    StateKey,
    Status,
)
from ..images import pod_images
from ..nodeinfo import ClusterState, NodeInfo
from ..podinfo import PodInfo
from ..snapshot import ClusterSnapshot

MB = 1024 * 1024
MIN_THRESHOLD = 23 * MB  # kube-scheduler's: smaller images pull fast anyway
MAX_IMAGE_THRESHOLD = 10_000 * MB  # kube-scheduler: 1000 MB per container
# Fluid's tiers: a node in the zone (region) of a node that has the image gets this share of
# that node's score (a peer or cache nearby pulls faster than the far registry).
ZONE_SHARE = 0.5
REGION_SHARE = 0.25
MAX_TABLES = 256  # score tables kept per layout (one per distinct image set of the pods)
N = TypeVar("N", int, float)
IMAGES = StateKey[tuple[str, ...]]("imageLocality.images")


def image_score(size: int, nodes_with_image: int, total_nodes: int) -> float:
    """The image's size times the share of nodes that have it."""
    return size * nodes_with_image / total_nodes if total_nodes else 0.0


def priority(total: float, images: int) -> int:
    """The clamped sum scaled to 0..MAX_NODE_SCORE."""
    ceiling = MAX_IMAGE_THRESHOLD * max(images, 1)
    clamped = min(max(total, MIN_THRESHOLD), ceiling)
    return int(MAX_NODE_SCORE * (clamped - MIN_THRESHOLD) / (ceiling - MIN_THRESHOLD))


class ImageLocality(PreScorePlugin, ScorePlugin):
    name = "imageLocality"
    order = 240
    # A multi-GB image or model already on a node saves minutes of cold start whatever
    # the tenant's mode: the same weight in every mode.
    weight = 3

    def __init__(self) -> None:
        self._indexed: tuple[ClusterSnapshot | None, int] = (None, -1)
        self._holders: dict[str, list[tuple[NodeInfo, int]]] = {}
        self._regions: dict[str, list[ClusterState]] = {}
        self._zones: dict[str, dict[str, list[NodeInfo]]] = {}  # per cluster, built on demand
        self._tables: dict[tuple[str, ...], tuple[dict[NodeInfo, int], int]] = {}

    def holders(self, snapshot: ClusterSnapshot) -> dict[str, list[tuple[NodeInfo, int]]]:
        """The nodes (with the size they report) per image, re-indexed when the snapshot
        layout changed (node facts, images included); the score tables go with it."""
        if self._indexed != (snapshot, snapshot.layout_version):
            holders: dict[str, list[tuple[NodeInfo, int]]] = {}
            regions: dict[str, list[ClusterState]] = {}
            for cluster in snapshot.clusters.values():
                regions.setdefault(cluster.region, []).append(cluster)
                for info in cluster.nodes.values():
                    for image, size in info.facts.images.items():
                        holders.setdefault(image, []).append((info, size))
            self._holders, self._regions, self._zones, self._tables = holders, regions, {}, {}
            self._indexed = (snapshot, snapshot.layout_version)
        return self._holders

    def image_counts(self, snapshot: ClusterSnapshot) -> Counter[str]:
        return Counter({image: len(nodes) for image, nodes in self.holders(snapshot).items()})

    def _zone(self, cluster: ClusterState, zone: str) -> list[NodeInfo]:
        """The nodes of an edge cluster in one of its zones (grouped once per layout)."""
        zones = self._zones.get(cluster.name)
        if zones is None:
            zones = {}
            for other in cluster.nodes.values():
                if other.facts.zone:
                    zones.setdefault(other.facts.zone, []).append(other)
            self._zones[cluster.name] = zones
        return zones.get(zone, [])

    def _tiers(self, nodes: list[tuple[NodeInfo, int]], total: int,
               scale: Callable[[float], N], zero: N) -> tuple[dict[NodeInfo, N], N]:
        """One image's ``scale``d raw score per node, and the score of the nodes not listed:
        a share of the best holder's for the nodes of the holders' regions, then zones
        (Fluid's tiers), then each holder's own. When every region has a holder, the region
        share is the default instead of an entry per node. Written group by group with
        dict.fromkeys: C speed, no Python step per node."""
        raw_of = {size: image_score(size, len(nodes), total) for size in {s for _, s in nodes}}
        best = max(raw_of.values())
        scores: dict[NodeInfo, N] = {}
        in_region, default = scale(best * REGION_SHARE), zero
        regions = {info.cluster.region for info, _ in nodes}
        if regions.issuperset(self._regions):
            default = in_region
        else:
            for region in regions:
                for cluster in self._regions.get(region, ()):
                    scores.update(dict.fromkeys(cluster.nodes.values(), in_region))
        in_zone = scale(best * ZONE_SHARE)
        zones = {(info.cluster.name, info.facts.zone): info.cluster for info, _ in nodes
                 if info.facts.zone}
        for (_name, zone), cluster in zones.items():
            scores.update(dict.fromkeys(self._zone(cluster, zone or ""), in_zone))
        own = {size: scale(raw) for size, raw in raw_of.items()}
        scores.update({info: own[size] for info, size in nodes})
        return scores, default

    def _table(self, images: tuple[str, ...], total: int) -> tuple[dict[NodeInfo, int], int]:
        """The scores of the nodes that have some of the images or share a region or zone
        with one that does, and the score of every other node (cached per layout and
        image set)."""
        cached = self._tables.get(images)
        if cached is not None:
            return cached
        present = [nodes for image in images if (nodes := self._holders.get(image))]
        result: tuple[dict[NodeInfo, int], int]
        if len(present) == 1 and len(images) == 1:  # the common case: scaled as written
            result = self._tiers(present[0], total, lambda raw: priority(raw, 1), 0)
        else:  # several images: add up each node's raw scores, then scale
            tiers = [self._tiers(nodes, total, float, 0.0) for nodes in present]
            listed = set().union(*(scores for scores, _ in tiers))
            raw = {info: sum(scores.get(info, d) for scores, d in tiers) for info in listed}
            rest = sum(d for _, d in tiers)
            scaled = {value: priority(value, len(images)) for value in {*raw.values(), rest}}
            result = ({info: scaled[value] for info, value in raw.items()}, scaled[rest])
        if len(self._tables) >= MAX_TABLES:
            self._tables.clear()
        self._tables[images] = result
        return result

    def pre_score(
        self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]
    ) -> Status | None:
        images = pod_images(pod.spec) + pod_datasets(pod.pod, state.tenant)
        holders = self.holders(state.snapshot)
        if not any(image in holders for image in images):
            return SKIP
        state.write(IMAGES, images)
        return None

    def score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> list[int]:
        table, default = self._table(state.read(IMAGES), state.snapshot.num_nodes)
        return list(map(table.get, nodes, repeat(default)))  # C speed

    def normalize_score(self, state: CycleState, pod: PodInfo, scores: list[int]) -> None:
        """Already 0..100 in score()."""
