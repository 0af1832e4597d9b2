"""EdgeDatasets distributed OnFirstUse (pure): nothing is transferred up front; a node gets
its copy when a pod that names the dataset is placed there.

- **Placement** (``placement_view``): the scheduler sees the pod with the
  annotation ``fusionvc.io/datasets-on-first-use`` naming its OnFirstUse
  datasets, which the DatasetReady filter then does not require (the pod must
  not wait for a copy that only its own placement starts), and with a required
  node affinity that keeps it where a copy may go: nodes already holding or
  getting a copy, or nodes of the dataset's target (clusters, regions,
  nodeSelector) in regions that have fewer than ``copiesPerRegion`` copies, and
  never a node whose transfer failed. ImageLocality still counts ready copies, so
  a node that holds one is preferred. The tenant's own value of that annotation
  is dropped. A bound pod (admitted again to its node) gets no extra affinity.
- **Transfer** (``demanded_targets``, ``first_use_candidates``): the nodes the
  EdgeDataset's Jobs go to are those of its target where a pod naming it was
  bound by fusionvc (``edge.fusionvc.io/edge-cluster``/``edge-node``), still running
  or waiting. Two pods placed at the same moment in one region may each start a
  copy there: the bound can be passed by the placements in flight.
- **Waiting** (``dataset_first_use_gate``): the pod is bound but its edge copy is
  made only once every OnFirstUse dataset it names is ready on its node.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from scheduler.datasets import FIRST_USE_ANNOTATION, dataset_names
from scheduler.nodeinfo import EDGE_CLUSTER_LABEL, HOSTNAME_LABEL, REGION_LABEL
from syncer.core import markers
from syncer.core.keys import WorkKey
from syncer.kinds.dataset_translate import DatasetSpec
from syncer.kinds.edge_targets import NodeState, Target
from syncer.kube import Obj, json_copy

ON_FIRST_USE = "OnFirstUse"
WAITING_REASON = "WaitingForDataset"
FAILED_REASON = "DatasetTransferFailed"
_TERMINAL = ("Succeeded", "Failed")


def is_first_use(spec: DatasetSpec) -> bool:
    return spec.strategy == ON_FIRST_USE


def names_dataset(pod: Obj, namespace: str, name: str) -> bool:
    return pod["metadata"].get("namespace") == namespace and name in dataset_names(pod)


def demanded_targets(pods: Iterable[Obj], namespace: str, name: str) -> set[Target]:
    """The nodes fusionvc bound live pods naming the dataset to."""
    found = set()
    for pod in pods:
        meta = pod["metadata"]
        where = meta.get("annotations") or {}
        if meta.get("deletionTimestamp") or (pod.get("status") or {}).get("phase") in _TERMINAL:
            continue
        if where.get(markers.EDGE_CLUSTER) and where.get(markers.EDGE_NODE) and \
                names_dataset(pod, namespace, name):
            found.add(Target(where[markers.EDGE_CLUSTER], where[markers.EDGE_NODE]))
    return found


def waiting_pods(pods: Iterable[Obj], namespace: str, name: str,
                 finished: set[Target]) -> list[str]:
    """Names of the pods waiting (``WaitingForDataset``) for the dataset on a node whose
    transfer has ``finished`` (ready or failed): they can go on now."""
    found = []
    for pod in pods:
        where = pod["metadata"].get("annotations") or {}
        target = Target(where.get(markers.EDGE_CLUSTER, ""), where.get(markers.EDGE_NODE, ""))
        if target not in finished or not names_dataset(pod, namespace, name):
            continue
        if any(c.get("type") == "ContainersReady" and c.get("reason") == WAITING_REASON
               for c in (pod.get("status") or {}).get("conditions") or ()):
            found.append(pod["metadata"]["name"])
    return found


def select_first_use(spec: DatasetSpec, candidates: list[tuple[Target, str]],
                     demanded: set[Target]) -> tuple[list[tuple[Target, str]], int | None]:
    """(candidates, copies per region) for ``choose_nodes``: for OnFirstUse, only the target's
    nodes a pod asked for, each of them (the bound was applied when the pod was placed)."""
    if not is_first_use(spec):
        return candidates, spec.copies_per_region
    return [(t, region) for t, region in candidates if t in demanded], None




def dataset_key(tenant: str, namespace: str, name: str) -> WorkKey:
    return WorkKey(tenant, "EdgeDataset", namespace, name)


# ---- what the scheduler sees ----------------------------------------------------------------


def _selector_expressions(raw_target: Obj) -> list[Obj]:
    selector = raw_target.get("nodeSelector") or {}
    found = [{"key": k, "operator": "In", "values": [v]}
             for k, v in (selector.get("matchLabels") or {}).items()]
    return found + [dict(e) for e in selector.get("matchExpressions") or []]


def bound_terms(spec: DatasetSpec, raw_target: Obj, held: Mapping[Target, str],
                failed: Iterable[Target]) -> list[Obj]:
    """Node selector terms (ORed) of where a pod may go for one OnFirstUse dataset: a node
    holding or getting a copy (``held``: target -> region), or a node of the target in a
    region with room for another copy, never a node whose transfer failed (none: any node)."""
    expressions = _selector_expressions(raw_target)
    if spec.clusters is not None:
        expressions.append({"key": EDGE_CLUSTER_LABEL, "operator": "In",
                            "values": sorted(spec.clusters)})
    if spec.regions is not None:
        expressions.append({"key": REGION_LABEL, "operator": "In",
                            "values": sorted(spec.regions)})
    failed_names = sorted({t.virtual_node for t in failed})
    if failed_names:
        expressions.append({"key": HOSTNAME_LABEL, "operator": "NotIn", "values": failed_names})
    if spec.copies_per_region is not None:
        per_region: dict[str, int] = {}
        for region in held.values():
            per_region[region] = per_region.get(region, 0) + 1
        full = sorted(r for r, n in per_region.items() if n >= spec.copies_per_region)
        if full:
            expressions.append({"key": REGION_LABEL, "operator": "NotIn", "values": full})
    if not expressions:
        return []  # any node (an empty term would match none)
    terms = [{"matchExpressions": expressions}]
    if held:
        terms.append({"matchExpressions": [{"key": HOSTNAME_LABEL, "operator": "In",
                                            "values": sorted(t.virtual_node for t in held)}]})
    return terms


def and_terms(existing: list[Obj] | None, ours: list[Obj]) -> list[Obj]:
    """(existing terms) AND (our terms), as node selector terms (ORs of ANDs); no terms on
    either side: no bound there."""
    if not existing or not ours:
        return ours or existing or []
    return [{**term, "matchExpressions": [*(term.get("matchExpressions") or []),
                                          *our["matchExpressions"]]}
            for term in existing for our in ours]


def placement_view(pod: Obj, first_use: Iterable[str], terms: Iterable[list[Obj]]) -> Obj:
    """The pod as the scheduler sees it: ``first_use`` (names of its OnFirstUse datasets) in
    the annotation, each dataset's ``terms`` ANDed into its required node affinity. The pod
    itself is never changed (its copy is)."""
    names = sorted(first_use)
    annotations = (pod["metadata"].get("annotations") or {})
    if not names and FIRST_USE_ANNOTATION not in annotations:
        return pod
    view = {**pod, "metadata": {**pod["metadata"], "annotations": {
        k: v for k, v in annotations.items() if k != FIRST_USE_ANNOTATION}}}
    if not names:
        return view
    view["metadata"]["annotations"][FIRST_USE_ANNOTATION] = ",".join(names)
    spec = view["spec"] = json_copy(pod["spec"])
    node_affinity = spec.setdefault("affinity", {}).setdefault("nodeAffinity", {})
    required = node_affinity.setdefault("requiredDuringSchedulingIgnoredDuringExecution", {})
    selector_terms = required.get("nodeSelectorTerms")
    for ours in terms:
        selector_terms = and_terms(selector_terms, ours)
    if selector_terms:
        required["nodeSelectorTerms"] = selector_terms
    else:
        node_affinity.pop("requiredDuringSchedulingIgnoredDuringExecution")
    return view


def transfer_state(states: Mapping[str, NodeState | None]) -> tuple[str, str, str]:
    """(state, reason, message) of a pod's OnFirstUse datasets on its node: ``ready`` (all
    of them), ``failed`` (the first failed one's reason) or ``waiting``."""
    for name, state in sorted(states.items()):
        if state is not None and state.state == "failed":
            return "failed", FAILED_REASON, (
                f"EdgeDataset {name!r} could not be put on this node "
                f"({state.reason}{': ' + state.message if state.message else ''})")
    waiting = sorted(n for n, s in states.items() if s is None or s.state != "succeeded")
    if waiting:
        return "waiting", WAITING_REASON, (
            f"waiting for EdgeDataset {', '.join(repr(n) for n in waiting)} to be transferred "
            "to this node (OnFirstUse)")
    return "ready", "", ""
