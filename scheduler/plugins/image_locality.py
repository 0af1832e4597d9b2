"""ImageLocality (PreScore, Score): prefer nodes that already have the pod's images.

Owns the image preference, in the shape of kube-scheduler's ImageLocality: a
node's raw score is the sum, over the pod's images it reports in
``status.images`` (pre-warmed ones included), of the image's size times the
share of all nodes that have it (an image on one node of many weighs little, so
pods do not all pile onto it). The sum is clamped to [23 MB, ceiling x images]
and scaled to 0..100. kube-scheduler's ceiling is 1000 MB per container; edge
inference images and models are several GB, so the ceiling here is 10 GB per
image: a 7 GB model present everywhere still ranks below a 10 GB one.

Tiers in the style of Fluid: a node without the image but in the same zone as
a node that has it scores half of that node's score, in the same region a
quarter (a nearby peer or cache pulls faster than the far registry). Ready
edge datasets (``scheduler.datasets``) count as images of the pod, and images
and datasets put on a node by fusionvc's finished work (pre-warm, download)
are reported among the node's images by the syncer (``syncer/warm_nodes.py``).

The nodes per image are indexed once per snapshot layout (node facts, images
included), and the scores of one set of images are a table of the nodes that
have some of them, also kept until the layout changes: a cycle then costs one
C-level lookup per node. A pod whose images no node has is skipped at once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from itertools import repeat

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
MAX_TABLES = 256  # score tables kept per layout (one per distinct image set of the pods)
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
        self._by_zone: dict[tuple[str, str], list[NodeInfo]] = {}
        self._by_region: dict[str, list[NodeInfo]] = {}
        self._tables: dict[tuple[str, ...], dict[NodeInfo, int]] = {}

    def holders(self, snapshot: ClusterSnapshot) -> dict[str, list[tuple[NodeInfo, int]]]:
        """The nodes (with the size they report) per image, re-indexed when the snapshot
        layout changed (node facts, images included); the score tables go with it."""
        if self._indexed != (snapshot, snapshot.layout_version):
            holders: dict[str, list[tuple[NodeInfo, int]]] = {}
            by_zone: dict[tuple[str, str], list[NodeInfo]] = {}
            by_region: dict[str, list[NodeInfo]] = {}
            for cluster in snapshot.clusters.values():
                for info in cluster.nodes.values():
                    facts = info.facts
                    by_region.setdefault(facts.region, []).append(info)
                    if facts.zone:
                        by_zone.setdefault((facts.region, facts.zone), []).append(info)
                    for image, size in facts.images.items():
                        holders.setdefault(image, []).append((info, size))
            self._holders, self._tables = holders, {}
            self._by_zone, self._by_region = by_zone, by_region
            self._indexed = (snapshot, snapshot.layout_version)
        return self._holders

    def image_counts(self, snapshot: ClusterSnapshot) -> Counter[str]:
        return Counter({image: len(nodes) for image, nodes in self.holders(snapshot).items()})

    def _tiered(self, nodes: list[tuple[NodeInfo, int]], total: int) -> dict[NodeInfo, float]:
        """One image's raw score per node: its own for a node that has it, a share of the
        best holder's for the other nodes of a holder's zone or region (Fluid's tiers)."""
        best = max(image_score(size, len(nodes), total) for _, size in nodes)
        scores: dict[NodeInfo, float] = {}
        for region in {info.facts.region for info, _ in nodes}:
            scores.update(dict.fromkeys(self._by_region.get(region, ()), best * REGION_SHARE))
        for zone in {(info.facts.region, info.facts.zone) for info, _ in nodes
                     if info.facts.zone}:
            scores.update(dict.fromkeys(self._by_zone.get(zone, ()), best * ZONE_SHARE))
        for info, size in nodes:
            scores[info] = image_score(size, len(nodes), total)
        return scores

    def _table(self, images: tuple[str, ...], total: int) -> dict[NodeInfo, int]:
        """Non-zero scores of the nodes that have some of the images or share a zone or
        region with one that does (cached per layout and image set)."""
        table = self._tables.get(images)
        if table is not None:
            return table
        raw: dict[NodeInfo, float] = {}
        for image in images:
            nodes = self._holders.get(image)
            if not nodes:
                continue
            tiered = self._tiered(nodes, total)
            if not raw:
                raw = tiered
                continue
            for info, value in tiered.items():
                raw[info] = raw.get(info, 0.0) + value
        # Tiers give many nodes the same raw value: scale each distinct value once.
        scaled = {value: priority(value, len(images)) for value in set(raw.values())}
        table = {info: score for info, value in raw.items() if (score := scaled[value])}
        if len(self._tables) >= MAX_TABLES:
            self._tables.clear()
        self._tables[images] = table
        return table

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
        table = self._table(state.read(IMAGES), state.snapshot.num_nodes)
        return list(map(table.get, nodes, repeat(0)))  # C speed: most nodes score 0

    def normalize_score(self, state: CycleState, pod: PodInfo, scores: list[int]) -> None:
        """Already 0..100 in score()."""
