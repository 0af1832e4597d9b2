"""ImageIndex: which nodes hold which images, kept up to date node by node, and the
per-node score tables built from it.

Owns, for one ClusterSnapshot (which calls it on every node change):

- ``holders``: per image, the nodes that report it (images, finished pre-warms and
  ready datasets all arrive as node images) with the size each reports;
- a small number per node (``NodeInfo.index_id``, reused after the node goes, kept
  when its facts change), and per number the slot of the node's zone (one per zone
  of an edge cluster, and one for its nodes without a zone), and the edge clusters of
  each region: what a tier bonus covers;
- a table is a list with each node's score at its number: built from a score per
  zone slot (one pass over the nodes' slots) and the holders' own scores, read in
  a cycle by one list indexing per node;
- the tables (ImageLocality's scores of one set of images), each kept until something
  it may depend on changes: a node gaining or losing one of its images, or reporting
  another size (only the tables of that image go), or a node added, removed, or
  moved to another zone, or a cluster moved to another region (all tables go: the
  share of nodes that have an image or a tier changed).

A node whose other facts change (readiness, labels, taints, allocatable) is a new
NodeInfo in the snapshot with the same number: every table stays. Keeping the index
costs a few dict operations per node change; a table costs one build per image set
until one of its images changes, not one per snapshot layout.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from .nodeinfo import ClusterState, NodeInfo

MAX_TABLES = 32  # tables kept (one per distinct image set of the pods), the oldest dropped
ZoneKey = tuple[str, str]  # (edge cluster, zone); zone "" for its nodes that name none
ScoreTable = list[int]  # the score (0..100) of each node, at its index_id


class ImageIndex:
    """Nodes per image, node numbers and zone slots, and score tables per image set."""

    def __init__(self, clusters: Mapping[str, ClusterState], max_tables: int = MAX_TABLES):
        self.holders: dict[str, dict[NodeInfo, int]] = {}
        self._clusters = clusters
        self._regions: dict[str, list[ClusterState]] | None = None
        self._tables: dict[tuple[str, ...], ScoreTable] = {}
        self._free_ids: list[int] = []
        # Per node number, the slot of its zone: a zone (or a cluster's nodes without one)
        # gets a slot when its first node comes, kept for good.
        self.node_slots: list[int] = []
        self._slots: dict[ZoneKey, int] = {}
        self._cluster_slots: dict[str, list[int]] = {}
        self.zoneless_slots: set[int] = set()  # the slots of nodes without a zone
        self.max_tables = max_tables
        self.builds = 0  # tables built so far (for tests and benchmarks)

    # -- node changes (called by the snapshot) -------------------------------------

    def node_added(self, info: NodeInfo) -> None:
        slot = self._slot(info)
        if self._free_ids:
            info.index_id = self._free_ids.pop()
            self.node_slots[info.index_id] = slot
        else:
            info.index_id = len(self.node_slots)
            self.node_slots.append(slot)
        self._add_images(info)
        self.structure_changed()

    def node_removed(self, info: NodeInfo) -> None:
        self._remove_images(info)
        self._free_ids.append(info.index_id)
        self.structure_changed()

    def node_replaced(self, old: NodeInfo, new: NodeInfo) -> None:
        """The snapshot replaced a node's NodeInfo (its facts changed)."""
        new.index_id = old.index_id
        self._remove_images(old)
        self._add_images(new)
        if old.facts.zone != new.facts.zone:  # the same cluster: the snapshot's
            self.node_slots[new.index_id] = self._slot(new)
            self.structure_changed()
            return
        before, after = old.facts.images, new.facts.images
        changed = {image for image in before.keys() | after.keys()
                   if before.get(image) != after.get(image)}
        for key in [key for key in self._tables if not changed.isdisjoint(key)]:
            del self._tables[key]

    def structure_changed(self) -> None:
        """Nodes were added or removed, or moved zone or region: every table goes."""
        self._regions = None
        self._tables.clear()

    def _slot(self, info: NodeInfo) -> int:
        key = (info.cluster.name, info.facts.zone or "")
        slot = self._slots.get(key)
        if slot is None:
            slot = self._slots[key] = len(self._slots)
            self._cluster_slots.setdefault(key[0], []).append(slot)
            if not key[1]:
                self.zoneless_slots.add(slot)
        return slot

    def _add_images(self, info: NodeInfo) -> None:
        for image, size in info.facts.images.items():
            self.holders.setdefault(image, {})[info] = size

    def _remove_images(self, info: NodeInfo) -> None:
        for image in info.facts.images:
            nodes = self.holders.get(image)
            if nodes is not None and nodes.pop(info, None) is not None and not nodes:
                del self.holders[image]

    # -- reading -------------------------------------------------------------------

    @property
    def num_slots(self) -> int:
        return len(self._slots)

    def zone_slots(self, nodes: Iterable[NodeInfo]) -> set[int]:
        """The slots of the zones these nodes are in (nodes without a zone are in none)."""
        node_slots = self.node_slots
        return {node_slots[node.index_id] for node in nodes} - self.zoneless_slots

    def zone_slot(self, key: ZoneKey) -> int:
        """The slot of one zone of one edge cluster (zone "": its nodes without a zone);
        KeyError for a zone no node was ever in."""
        return self._slots[key]

    def cluster_slots(self, cluster: str) -> list[int]:
        """The slots of an edge cluster's zones."""
        return self._cluster_slots.get(cluster, [])

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
