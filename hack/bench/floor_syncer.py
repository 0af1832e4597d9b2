"""The floor of the syncer's CPU per pod (issue 16, part 2), as a program of its own.

Issue 16 puts the floor at what no syncer can skip for a pod: parse its watch events,
make one edge create, one tenant binding and one tenant status write (and, when the
pod is deleted, one edge delete and the tenant pod's final delete). This program does
that for the sandbox's tenants and edge clusters and nothing more, with the syncer's own
HTTP client, watch parsing, event loop and garbage collector settings: no caches, no
scheduler (pods go round robin over the edge nodes), no admission checks, no retries.
``syncer_ab.py --floor`` runs it in place of a syncer, so its CPU per pod stands beside
the syncer's in one run on one machine.

Not a product: it handles only the benches' pods (token-less pods of a Deployment, in
tenant namespaces created after it starts) and drops a pod on any error. It makes one
bare virtual Node per edge node in each tenant at start (or takes the syncer's), marks
them Ready and renews their Leases, so that the tenant's controllers see what they see
under the syncer; and since it does not serve the tenants' aggregated metrics APIs (the
syncer does), it finalizes a deleted tenant namespace once only their discovery holds it.

Layers: ``edge_pod`` / ``binding`` / ``status_patch`` are pure (tests/unit/bench);
``Floor`` watches and calls. It serves ``fusionvc_api_requests_total`` on
``--metrics-port`` so that the benches count its writes as they count the syncer's.

    PYTHONPATH=.:hack/bench .venv/bin/python hack/bench/floor_syncer.py --state-dir D
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import itertools
import signal
import sys
from collections.abc import Callable, Coroutine
from functools import partial
from pathlib import Path
from typing import Any

from common import REPO, sandbox_status
from kubernetes_asyncio.config import new_client_from_config
from prometheus_client import CollectorRegistry, start_http_server

from syncer.core.names import edge_namespace, virtual_node_name
from syncer.kube.apis import LEASES, NAMESPACES, NODES, PODS, TENANTS, ResourceType
from syncer.kube.client import KubeClient, KubeError
from syncer.ops import event_loop
from syncer.ops.leader import format_micro_time
from syncer.ops.metrics import ApiRequests
from syncer.ops.stalls import tune_gc

Obj = dict[str, Any]
SERVICE_ACCOUNTS = ResourceType("", "v1", "serviceaccounts", "ServiceAccount")
FLOOR_LABEL = "bench.fusionvc.io/floor"  # on its edge namespaces and pods, not the syncer's
SERVICE_ACCOUNT = "floor"
STATUS_FIELDS = ("phase", "conditions", "hostIP", "hostIPs", "podIP", "podIPs", "startTime",
                 "containerStatuses", "initContainerStatuses", "qosClass")
WATCH_S = 300
LEASE_NAMESPACE = "kube-node-lease"
LEASE_S = 40
HEARTBEAT_S = 10.0


def micro_now() -> str:
    return format_micro_time(dt.datetime.now(dt.UTC))


def edge_pod(pod: Obj, edge_ns: str, edge_node: str, tenant: str) -> Obj:
    """The edge copy: the tenant's spec on one edge node, its labels and a floor label."""
    meta = pod["metadata"]
    spec = {**pod["spec"], "nodeName": edge_node, "serviceAccountName": SERVICE_ACCOUNT,
            "automountServiceAccountToken": False}
    spec.pop("serviceAccount", None)
    labels = {**(meta.get("labels") or {}), FLOOR_LABEL: tenant}
    return {"apiVersion": "v1", "kind": "Pod", "spec": spec,
            "metadata": {"name": meta["name"], "namespace": edge_ns, "labels": labels}}


def binding(pod: Obj, node: str) -> Obj:
    """The tenant pod's binding to its virtual node, guarded by the pod's UID."""
    meta = pod["metadata"]
    return {"apiVersion": "v1", "kind": "Binding",
            "metadata": {"name": meta["name"], "namespace": meta["namespace"],
                         "uid": meta["uid"]},
            "target": {"apiVersion": "v1", "kind": "Node", "name": node}}


def status_patch(edge: Obj) -> Obj:
    """A merge patch that gives the tenant pod its copy's status."""
    status = edge.get("status") or {}
    return {"status": {k: status[k] for k in STATUS_FIELDS if k in status}}


def virtual_nodes(edge_nodes: dict[str, list[str]]) -> list[tuple[str, str, str]]:
    """(edge, edge node, virtual node) of every edge node, in a fixed order."""
    return [(e, n, virtual_node_name(e, n)) for e, nodes in sorted(edge_nodes.items())
            for n in nodes]


def virtual_node(name: str) -> Obj:
    """A bare tenant Node to bind to (the tenant's pod GC removes pods bound to missing
    nodes); made once per node before any pod, as the syncer's are."""
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name,
            "labels": {"kubernetes.io/hostname": name, FLOOR_LABEL: "true"}}}


def ready_status(now: str) -> Obj:
    """A merge patch of a virtual node's status: Ready, heard from now."""
    return {"status": {"conditions": [{"type": "Ready", "status": "True", "reason": "Floor",
                                       "lastHeartbeatTime": now, "lastTransitionTime": now}]}}


def node_lease(node: str, now: str) -> Obj:
    """The node's Lease, renewed now: the tenant's node lifecycle controller would mark a
    node without one NotReady, and its pods not ready, which would change the tenant's work."""
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": node, "namespace": LEASE_NAMESPACE},
            "spec": {"holderIdentity": node, "leaseDurationSeconds": LEASE_S,
                     "renewTime": now}}


def only_discovery_holds(namespace: Obj) -> bool:
    """A terminating tenant namespace whose content is gone, held only because the tenant's
    aggregated metrics APIs (served by the syncer, not by this program) fail discovery."""
    if not namespace["metadata"].get("deletionTimestamp"):
        return False
    true = {c["type"] for c in (namespace.get("status") or {}).get("conditions") or []
            if c.get("status") == "True"}
    return "NamespaceDeletionDiscoveryFailure" in true and not true & {
        "NamespaceContentRemaining", "NamespaceFinalizersRemaining",
        "NamespaceDeletionContentFailure", "NamespaceDeletionGroupVersionParsingFailure"}


class Floor:
    """Watches every tenant's namespaces and pods and every edge's pods; the calls above."""

    def __init__(self, tenants: dict[str, KubeClient], uids: dict[str, str],
                 edges: dict[str, KubeClient]) -> None:
        self.tenants, self.uids, self.edges = tenants, uids, edges
        self.nodes: dict[str, itertools.cycle[tuple[str, str, str]]] = {}
        self.ready: dict[tuple[str, str], asyncio.Future[None]] = {}  # (tenant, namespace)
        self.owner: dict[str, tuple[str, str]] = {}  # edge namespace -> (tenant, namespace)
        self.placed: dict[tuple[str, str, str], str] = {}  # (tenant, ns, pod) -> edge
        self.deleting: set[tuple[str, str, str]] = set()
        self.reported: dict[tuple[str, str, str], Obj] = {}  # the status last written up
        self.tasks: set[asyncio.Task[None]] = set()
        self.made_nodes: list[tuple[str, str]] = []  # (tenant, virtual node) it created

    async def heartbeat(self, nodes: list[str]) -> None:
        """Every virtual node's Lease renewed every HEARTBEAT_S, as the syncer renews them."""
        while True:
            for client in self.tenants.values():
                for name in nodes:
                    await self.renew(client, name)
            await asyncio.sleep(HEARTBEAT_S)

    async def renew(self, client: KubeClient, node: str) -> None:
        lease = node_lease(node, micro_now())
        try:
            await client.patch(LEASES, node, {"spec": lease["spec"]}, LEASE_NAMESPACE)
        except KubeError as err:
            if not err.not_found:
                raise
            await self.discard(client.create(LEASES, lease, LEASE_NAMESPACE))

    async def remove_nodes(self) -> None:
        """The virtual Nodes it made (and their Leases): the syncer left such Nodes alone."""
        for tenant, name in self.made_nodes:
            await self.discard(self.tenants[tenant].delete(NODES, name))
            await self.discard(self.tenants[tenant].delete(LEASES, name, LEASE_NAMESPACE))

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self.tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            print(f"floor: {task.exception()!r}", file=sys.stderr, flush=True)

    async def run(self) -> None:
        edge_nodes = {e: [n["metadata"]["name"] for n in (await c.list(NODES))["items"]]
                      for e, c in self.edges.items()}
        every = virtual_nodes(edge_nodes)
        for t, client in self.tenants.items():
            names = {n["metadata"]["name"] for n in (await client.list(NODES))["items"]}
            for _, _, name in every:
                if name not in names:
                    await self.discard(client.create(NODES, virtual_node(name)))
                    self.made_nodes.append((t, name))
                await client.patch(NODES, name, ready_status(micro_now()), subresource="status")
            self.nodes[t] = itertools.cycle(every)
        self.spawn(self.heartbeat([name for _, _, name in every]))
        watches = [self.watch(c, NAMESPACES, partial(self.on_namespace, t))
                   for t, c in self.tenants.items()]
        watches += [self.watch(c, PODS, partial(self.on_tenant_pod, t))
                    for t, c in self.tenants.items()]
        watches += [self.watch(c, PODS, self.on_edge_pod, labelSelector=FLOOR_LABEL)
                    for c in self.edges.values()]
        print("floor: watching", flush=True)
        await asyncio.gather(*watches)

    async def watch(self, client: KubeClient, rt: ResourceType,
                    handle: Callable[[Obj], None], **query: Any) -> None:
        """Events after the start, handed over as they are parsed; resumes at the last one
        (after an ERROR event, such as an expired version, at the present: a bench that
        runs that long has lost events anyway)."""
        rv = ""
        while True:
            try:
                if not rv:
                    rv = (await client.list(rt, limit=1, **query))["metadata"]["resourceVersion"]
                async for ev in client.watch(rt, rv, timeout_seconds=WATCH_S,
                                             read_timeout=WATCH_S + 30, **query):
                    if ev["type"] == "ERROR":
                        print(f"floor: watch {client.name} {rt.plural}: {ev['object']}",
                              file=sys.stderr)
                        rv = ""
                        break
                    rv = ev["object"]["metadata"]["resourceVersion"]
                    if ev["type"] != "BOOKMARK":
                        handle(ev)
            except KubeError as err:
                print(f"floor: watch {client.name} {rt.plural}: {err}", file=sys.stderr)
                await asyncio.sleep(1)

    def on_namespace(self, tenant: str, ev: Obj) -> None:
        name = ev["object"]["metadata"]["name"]
        if ev["type"] == "ADDED":
            self.ready[tenant, name] = asyncio.get_running_loop().create_future()
            self.spawn(self.make_namespace(tenant, name))
        elif (ev["type"] == "MODIFIED" and (tenant, name) in self.ready
              and only_discovery_holds(ev["object"])):
            done = {**ev["object"], "spec": {"finalizers": []}}
            self.spawn(self.discard(self.tenants[tenant].replace(NAMESPACES, done, "finalize")))
        elif ev["type"] == "DELETED" and self.ready.pop((tenant, name), None) is not None:
            ens = edge_namespace(tenant, self.uids[tenant], name)
            for client in self.edges.values():
                self.spawn(self.discard(client.delete(NAMESPACES, ens)))

    async def make_namespace(self, tenant: str, name: str) -> None:
        ens = edge_namespace(tenant, self.uids[tenant], name)
        self.owner[ens] = (tenant, name)
        for client in self.edges.values():
            await self.discard(client.create(
                NAMESPACES, {"metadata": {"name": ens, "labels": {FLOOR_LABEL: tenant}}}))
            await self.discard(client.create(
                SERVICE_ACCOUNTS, {"metadata": {"name": SERVICE_ACCOUNT}}, ens))
        self.ready[tenant, name].set_result(None)

    @staticmethod
    async def discard(call: Coroutine[Any, Any, Any]) -> None:
        """A call whose "already exists" or "not found" answer is no error here."""
        try:
            await call
        except KubeError as err:
            if err.status not in (404, 409):
                raise

    def on_tenant_pod(self, tenant: str, ev: Obj) -> None:
        pod = ev["object"]
        meta = pod["metadata"]
        key = (tenant, meta["namespace"], meta["name"])
        if ev["type"] == "DELETED":
            self.placed.pop(key, None)
            self.deleting.discard(key)
            self.reported.pop(key, None)
        elif meta.get("deletionTimestamp"):
            if key in self.placed and key not in self.deleting:
                self.deleting.add(key)
                self.spawn(self.delete_copy(key, meta.get("deletionGracePeriodSeconds")))
        elif (not pod["spec"].get("nodeName") and key not in self.placed
              and (tenant, key[1]) in self.ready):
            self.placed[key] = ""
            self.spawn(self.place(tenant, pod))

    async def place(self, tenant: str, pod: Obj) -> None:
        meta = pod["metadata"]
        key = (tenant, meta["namespace"], meta["name"])
        await self.ready[tenant, key[1]]
        edge, node, virtual = next(self.nodes[tenant])
        ens = edge_namespace(tenant, self.uids[tenant], key[1])
        self.placed[key] = edge
        await self.edges[edge].create(PODS, edge_pod(pod, ens, node, tenant), ens)
        await self.tenants[tenant].request("POST", PODS.path(key[1], key[2], "binding"),
                                           body=binding(pod, virtual), decode=False)

    async def delete_copy(self, key: tuple[str, str, str], grace: int | None) -> None:
        tenant, ns, name = key
        ens = edge_namespace(tenant, self.uids[tenant], ns)
        await self.edges[self.placed[key]].delete(PODS, name, ens, grace_seconds=grace)

    def on_edge_pod(self, ev: Obj) -> None:
        pod = ev["object"]
        meta = pod["metadata"]
        owner = self.owner.get(meta["namespace"])
        if owner is None:
            return
        key = (owner[0], owner[1], meta["name"])
        if ev["type"] == "DELETED":
            if key in self.deleting:
                self.spawn(self.discard(self.tenants[key[0]].delete(
                    PODS, key[2], key[1], grace_seconds=0, propagation=None)))
        elif (pod.get("status") or {}).get("phase") in ("Running", "Succeeded", "Failed"):
            patch = status_patch(pod)
            if self.reported.get(key) != patch:  # each change of a started copy, once
                self.reported[key] = patch
                self.spawn(self.tenants[key[0]].patch(PODS, key[2], patch, key[1],
                                                      subresource="status"))


async def connect(state_dir: Path) -> Floor:
    status = sandbox_status(str(state_dir))
    clients = {}
    for c in status["clusters"]:
        if c["role"] in ("tenant", "edge", "management"):
            # the syncer's own credentials: its client certificates and RBAC checks
            api = await new_client_from_config(
                config_file=c.get("syncerKubeconfig") or c["kubeconfig"])
            clients[c["name"]] = (c["role"], KubeClient(api, c["name"], 60))
    management = next(k for r, k in clients.values() if r == "management")
    tenants = {n: k for n, (r, k) in clients.items() if r == "tenant"}
    uids = {t: (await management.get(TENANTS, t))["metadata"]["uid"] for t in tenants}
    edges = {n: k for n, (r, k) in clients.items() if r == "edge"}
    return Floor(tenants, uids, edges)


async def main_async(args: argparse.Namespace) -> None:
    """Runs until SIGTERM or SIGINT, then removes the virtual Nodes it made."""
    floor = await connect(args.state_dir.resolve())
    running = asyncio.create_task(floor.run())
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, running.cancel)
    try:
        await running
    except asyncio.CancelledError:
        pass
    finally:
        for task in list(floor.tasks):
            task.cancel()
        await asyncio.wait_for(floor.remove_nodes(), 30)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--state-dir", type=Path, default=REPO / ".sandbox")
    parser.add_argument("--metrics-port", type=int, default=0,
                        help="serve fusionvc_api_requests_total here (0: not at all)")
    args = parser.parse_args()
    if args.metrics_port:
        registry = CollectorRegistry()
        registry.register(ApiRequests())
        start_http_server(args.metrics_port, "127.0.0.1", registry)
    tune_gc()
    event_loop.run(main_async(args))


if __name__ == "__main__":
    main()
