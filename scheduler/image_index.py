"""ImageIndex: which nodes hold which images, kept up to date node by node, and the
per-node score tables built from it.

Owns, for one ClusterSnapshot (which calls it on every node change):

- ``holders``: per image, the nodes that report it (images, finished pre-warms and
  ready datasets all arrive as node images) with the size each reports;
- the nodes of each zone of each edge cluster, and the edge clusters of each region
  (what a tier bonus covers);
- per-node tables built from these (ImageLocality's scores of one set of images),
  each kept until something it may depend on changes: a node gaining or losing one
  of its images, or reporting another size (only the tables of that image go), or
  a node added, removed, or moved to another zone, or a cluster moved to another
  region (all tables go: the share of nodes that have an image or a tier changed).

A node whose other facts change (readiness, labels, taints, allocatable) is a new
NodeInfo in the snapshot: its entries move to the new object, and every table stays.
Keeping the index costs a few dict operations per node change; a table costs one
build per image set until one of its images changes, not one per snapshot layout.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from .nodeinfo import ClusterState, NodeInfo

MAX_TABLES = 32  # tables kept (one per distinct image set of the pods), the oldest dropped
ZoneKey = tuple[str, str]  # (edge cluster, zone)
# The score of each node listed, and the score of every node not listed.
ScoreTable = tuple[dict[NodeInfo, int], int]


def zone_key(info: NodeInfo) -> ZoneKey | None:
    """The zone a node is in, within its edge cluster (None: it names no zone)."""
    zone = info.facts.zone
    return (info.cluster.name, zone) if zone else None


class ImageIndex:
    """Nodes per image, zone and region, and score tables cached per image set."""

    def __init__(self, clusters: Mapping[str, ClusterState], max_tables: int = MAX_TABLES):
        self.holders: dict[str, dict[NodeInfo, int]] = {}
        self._clusters = clusters
        self._zones: dict[ZoneKey, dict[NodeInfo, None]] = {}
        self._regions: dict[str, list[ClusterState]] | None = None
        self._tables: dict[tuple[str, ...], ScoreTable] = {}
        self.max_tables = max_tables
        self.builds = 0  # tables built so far (for tests and benchmarks)

    # -- node changes (called by the snapshot) -------------------------------------

    def node_added(self, info: NodeInfo) -> None:
        self._add(info)
        self.structure_changed()

    def node_removed(self, info: NodeInfo) -> None:
        self._remove(info)
        self.structure_changed()

    def node_replaced(self, old: NodeInfo, new: NodeInfo) -> None:
        """The snapshot replaced a node's NodeInfo (its facts changed)."""
        if zone_key(old) != zone_key(new):
            self._remove(old)
            self._add(new)
            self.structure_changed()
            return
        before, after = old.facts.images, new.facts.images
        changed = {image for image in before.keys() | after.keys()
                   if before.get(image) != after.get(image)}
        self._remove(old)
        self._add(new)
        if changed:
            self._drop_tables(changed)
        for scores, _default in self._tables.values():
            score = scores.pop(old, None)
            if score is not None:
                scores[new] = score

    def structure_changed(self) -> None:
        """Nodes were added or removed, or moved zone or region: every table goes."""
        self._regions = None
        self._tables.clear()

    def _add(self, info: NodeInfo) -> None:
        for image, size in info.facts.images.items():
            self.holders.setdefault(image, {})[info] = size
        key = zone_key(info)
        if key is not None:
            self._zones.setdefault(key, {})[info] = None

    def _remove(self, info: NodeInfo) -> None:
        for image in info.facts.images:
            nodes = self.holders.get(image)
            if nodes is not None and nodes.pop(info, None) is not None and not nodes:
                del self.holders[image]
        key = zone_key(info)
        members = self._zones.get(key) if key is not None else None
        if members is not None:
            members.pop(info, None)
            if not members:
                del self._zones[key]  # type: ignore[arg-type]

    def _drop_tables(self, images: set[str]) -> None:
        for key in [key for key in self._tables if not images.isdisjoint(key)]:
            del self._tables[key]

    # -- reading -------------------------------------------------------------------

    def zone_nodes(self, key: ZoneKey) -> Iterable[NodeInfo]:
        """The nodes of one zone of one edge cluster."""
        return self._zones.get(key, {}).keys()

    def region_clusters(self) -> dict[str, list[ClusterState]]:
        """The edge clusters of each region (grouped once until the structure changes)."""
        if self._regions is None:
            regions: dict[str, list[ClusterState]] = {}
            for cluster in self._clusters.values():
                regions.setdefault(cluster.region, []).append(cluster)
            self._regions = regions
        return self._regions

    def table(self, images: tuple[str, ...], build: Callable[[], ScoreTable]) -> ScoreTable:
        """The score table of an image set, built once until one of its images changes
        (or the structure)."""
        cached = self._tables.get(images)
        if cached is None:
            if len(self._tables) >= self.max_tables:
                del self._tables[next(iter(self._tables))]
            cached = self._tables[images] = build()
            self.builds += 1
        return cached
