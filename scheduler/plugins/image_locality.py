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

The nodes per image are indexed node by node by the snapshot
(``scheduler.image_index``), and the scores of one set of images are a table of
every node's score at the node's number (a list, written per zone slot and spread
to the nodes in one pass), kept by the index until one of those images changes on
some node, or nodes come or go or move zone or region: a cycle then costs one
list indexing per node. A pod whose images no node has is skipped at once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from operator import add
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
from ..image_index import ImageIndex, ScoreTable
from ..images import pod_images
from ..nodeinfo import NodeInfo
from ..podinfo import PodInfo
from ..snapshot import ClusterSnapshot

MB = 1024 * 1024
MIN_THRESHOLD = 23 * MB  # kube-scheduler's: smaller images pull fast anyway
MAX_IMAGE_THRESHOLD = 10_000 * MB  # kube-scheduler: 1000 MB per container
# Fluid's tiers: a node in the zone (region) of a node that has the image gets this share of
# that node's score (a peer or cache nearby pulls faster than the far registry).
ZONE_SHARE = 0.5
REGION_SHARE = 0.25
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

    def holders(self, snapshot: ClusterSnapshot) -> dict[str, dict[NodeInfo, int]]:
        """The nodes (with the size they report) per image: the snapshot's index."""
        return snapshot.images.holders

    def image_counts(self, snapshot: ClusterSnapshot) -> Counter[str]:
        return Counter({image: len(nodes) for image, nodes in self.holders(snapshot).items()})

    def _tiers(self, index: ImageIndex, holders: dict[NodeInfo, int], total: int,
               scale: Callable[[float], N]) -> list[N]:
        """One image's ``scale``d raw score per node (at each node's index_id): a share of
        the best holder's for the nodes of the holders' regions, then zones (Fluid's
        tiers), then each holder's own, 0 elsewhere. Tiers are written per zone slot (a
        few per edge cluster), then spread to the nodes in one pass."""
        raw_of = {size: image_score(size, len(holders), total) for size in set(holders.values())}
        best = max(raw_of.values())
        in_region = scale(best * REGION_SHARE)
        regions = {info.cluster.region for info in holders}
        clusters_of = index.region_clusters()
        if regions.issuperset(clusters_of):
            by_slot = [in_region] * index.num_slots
        else:
            by_slot = [scale(0.0)] * index.num_slots  # 0 either way (priority's floor)
            for region in regions:
                for cluster in clusters_of.get(region, ()):
                    for slot in index.cluster_slots(cluster.name):
                        by_slot[slot] = in_region
        in_zone = scale(best * ZONE_SHARE)
        for slot in index.zone_slots(holders):
            by_slot[slot] = in_zone
        table = [by_slot[slot] for slot in index.node_slots]
        own = {size: scale(raw) for size, raw in raw_of.items()}
        for info, size in holders.items():
            table[info.index_id] = own[size]
        return table

    def _table(self, index: ImageIndex, images: tuple[str, ...], total: int) -> ScoreTable:
        """The score of every node (at its index_id) for a pod with these images."""
        present = [nodes for image in images if (nodes := index.holders.get(image))]
        if len(present) == 1 and len(images) == 1:  # the common case: scaled as written
            return self._tiers(index, present[0], total, lambda raw: priority(raw, 1))
        # several images: add up each node's raw scores (in image order), then scale
        raw = [0.0] * len(index.node_slots)
        for nodes in present:
            raw = list(map(add, raw, self._tiers(index, nodes, total, float)))
        scaled = {value: priority(value, len(images)) for value in set(raw)}
        return list(map(scaled.__getitem__, raw))

    def pre_score(
        self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]
    ) -> Status | None:
        images = pod_images(pod.spec) + pod_datasets(pod.pod, state.tenant)
        holders = state.snapshot.images.holders
        if not any(image in holders for image in images):
            return SKIP
        state.write(IMAGES, images)
        return None

    def score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> list[int]:
        snapshot = state.snapshot
        images = state.read(IMAGES)
        table = snapshot.images.table(
            images, lambda: self._table(snapshot.images, images, snapshot.num_nodes))
        # A comprehension: CPython 3.11 specialises the slot read and the list indexing,
        # twice as fast as map() with attrgetter (and than a dict lookup per node).
        return [table[node.index_id] for node in nodes]

    def normalize_score(self, state: CycleState, pod: PodInfo, scores: list[int]) -> None:
        """Already 0..100 in score()."""
