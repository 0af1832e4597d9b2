"""DatasetReady (PreFilter, Filter): a pod that needs edge datasets runs only where they are ready.

Owns the dataset rule: every dataset the pod names (``scheduler.datasets``) must
be among the node's images, where the syncer reports a dataset once its download
succeeded on that node. Elsewhere the pod waits, with the reason in its
PodScheduled condition; it is placed when a download finishes (the node's
images change, which wakes pending pods). A pod that names none skips it.
Datasets distributed OnFirstUse (listed by the syncer in the annotation
``fusionvc.io/datasets-on-first-use`` of the pod it hands over) are not required:
placing the pod starts their transfer, and the syncer keeps the pod where a copy
may go (a required node affinity) and holds its edge copy until the transfer ends.
"""

from __future__ import annotations

from ..datasets import pod_required_datasets
from ..framework import SKIP, CycleState, FilterPlugin, PreFilterPlugin, StateKey, Status
from ..nodeinfo import NodeInfo
from ..podinfo import PodInfo

NEEDED = StateKey[tuple[str, ...]]("datasetReady.needed")
NOT_READY = Status.unschedulable("node(s) didn't have the pod's edge datasets ready")


class DatasetReady(PreFilterPlugin, FilterPlugin):
    name = "datasetReady"
    order = 75

    def pre_filter(self, state: CycleState, pod: PodInfo) -> Status | None:
        needed = pod_required_datasets(pod.pod, state.tenant)
        if not needed:
            return SKIP
        state.write(NEEDED, needed)
        return None

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        images = node.facts.images
        if all(d in images for d in state.read(NEEDED)):
            return None
        return NOT_READY
