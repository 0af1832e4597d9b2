"""ImageLocality (PreScore, Score): prefer nodes that already have the pod's images.

Owns the image preference, in the shape of kube-scheduler's ImageLocality: a
node's raw score is the sum, over the pod's images it reports in
``status.images`` (pre-warmed ones included), of the image's size times the
share of all nodes that have it (an image on one node of many weighs little, so
pods do not all pile onto it). The sum is clamped to [23 MB, ceiling x images]
and scaled to 0..100. kube-scheduler's ceiling is 1000 MB per container; edge
inference images and models are several GB, so the ceiling here is 10 GB per
image: a 7 GB model present everywhere still ranks below a 10 GB one.

The share needs a count of nodes per image over the whole snapshot; it is
recounted only when the snapshot layout changes (node facts, images included).
A pod whose images no node has is skipped at once (every node would score 0).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from itertools import compress
from operator import attrgetter

from ..framework import MAX_NODE_SCORE, SKIP, CycleState, StateKey, Status
from ..images import pod_images
from ..nodeinfo import NodeInfo
from ..podinfo import PodInfo
from ..snapshot import ClusterSnapshot

MB = 1024 * 1024
MIN_THRESHOLD = 23 * MB  # kube-scheduler's: smaller images pull fast anyway
MAX_IMAGE_THRESHOLD = 10_000 * MB  # kube-scheduler: 1000 MB per container
_IMAGES_OF = attrgetter("facts.images")
IMAGES = StateKey[tuple[str, ...]]("imageLocality.images")


def image_score(size: int, nodes_with_image: int, total_nodes: int) -> float:
    """The image's size times the share of nodes that have it."""
    return size * nodes_with_image / total_nodes if total_nodes else 0.0


def priority(total: float, images: int) -> int:
    """The clamped sum scaled to 0..MAX_NODE_SCORE."""
    ceiling = MAX_IMAGE_THRESHOLD * max(images, 1)
    clamped = min(max(total, MIN_THRESHOLD), ceiling)
    return int(MAX_NODE_SCORE * (clamped - MIN_THRESHOLD) / (ceiling - MIN_THRESHOLD))


class ImageLocality:
    name = "imageLocality"

    def __init__(self) -> None:
        self._counted: tuple[ClusterSnapshot | None, int] = (None, -1)
        self._counts: Counter[str] = Counter()

    def image_counts(self, snapshot: ClusterSnapshot) -> Counter[str]:
        """Nodes per image over the snapshot, recounted when its layout changed."""
        if self._counted != (snapshot, snapshot.layout_version):
            counts: Counter[str] = Counter()
            for cluster in snapshot.clusters.values():
                for info in cluster.nodes.values():
                    counts.update(info.facts.images.keys())
            self._counts, self._counted = counts, (snapshot, snapshot.layout_version)
        return self._counts

    def pre_score(
        self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]
    ) -> Status | None:
        images = pod_images(pod.spec)
        counts = self.image_counts(state.snapshot)
        if not any(image in counts for image in images):
            return SKIP
        state.write(IMAGES, images)
        return None

    def score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> list[int]:
        images = state.read(IMAGES)
        counts, total = self._counts, state.snapshot.num_nodes
        # Each image's share of nodes, once per cycle; most nodes report none of the images.
        shares = [(image, counts[image] / total) for image in images if counts[image]]
        scores = [0] * len(nodes)
        reported = list(map(_IMAGES_OF, nodes))  # C loops: only nodes with images cost more
        for i in compress(range(len(nodes)), reported):
            have = reported[i]
            raw = 0.0
            for image, share in shares:
                size = have.get(image)
                if size:
                    raw += size * share
            if raw > MIN_THRESHOLD:
                scores[i] = priority(raw, len(images))
        return scores

    def normalize_score(self, state: CycleState, pod: PodInfo, scores: list[int]) -> None:
        """Already 0..100 in score()."""
