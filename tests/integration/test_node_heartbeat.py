"""A syncer with a longer --node-heartbeat keeps its virtual nodes Ready with fewer writes.

The session's syncer is swapped for one renewing virtual node Leases every 30 s (and running
its drift scan every 10 s, which must not renew them). The tenant controller-manager keeps
the sandbox's 50 s grace period: a renewal missed once would turn the node Unknown.
"""

from __future__ import annotations

import datetime as dt
import itertools
import time
from collections.abc import Iterator

import pytest

from .kube_helpers import Obj, apply, deployment, get_json, namespace, running_pods, unique
from .sandbox_fixture import SandboxHandle
from .syncer_fixture import SyncerProcess, wait_for

HEARTBEAT = 30


@pytest.fixture
def slow_heartbeat(sandbox: SandboxHandle, syncer: SyncerProcess) -> Iterator[SyncerProcess]:
    syncer.stop()
    proc = SyncerProcess(sandbox, name="syncer-heartbeat",
                         extra_args=(f"--node-heartbeat={HEARTBEAT}s",
                                     "--drift-scan-interval=10s"))
    try:
        yield proc.start()
    finally:
        proc.stop()
        syncer.start()


def renew_time(lease: Obj) -> dt.datetime:
    return dt.datetime.fromisoformat(lease["spec"]["renewTime"].replace("Z", "+00:00"))


def ready(node: Obj) -> Obj:
    return next(c for c in node["status"]["conditions"] if c["type"] == "Ready")


def test_a_longer_heartbeat_keeps_the_virtual_node_ready(
        sandbox: SandboxHandle, slow_heartbeat: SyncerProcess) -> None:
    tenant, ns = sandbox["tenant-a"], unique("beat")
    apply(tenant, namespace(ns), deployment(ns, "web", 1))
    pods = wait_for(lambda: running_pods(tenant, ns), 120, "the pod Running", every=2)
    vnode = pods[0]["spec"]["nodeName"]

    def lease() -> Obj:
        return get_json(tenant, "lease", "-n", "kube-node-lease", vnode)
    wait_for(lambda: lease()["spec"]["leaseDurationSeconds"] == 4 * HEARTBEAT, 60,
             f"the Lease of {vnode} lasting {4 * HEARTBEAT}s")
    heartbeat_before = ready(get_json(tenant, "node", vnode)).get("lastHeartbeatTime")
    renewals = {renew_time(lease())}
    deadline = time.monotonic() + 2.5 * HEARTBEAT
    while time.monotonic() < deadline:
        node = get_json(tenant, "node", vnode)
        assert ready(node)["status"] == "True", f"{vnode} stopped being Ready: {ready(node)}"
        renewals.add(renew_time(lease()))
        time.sleep(3)
    times = sorted(renewals)
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(times)]
    assert len(gaps) >= 2, f"renewed every {HEARTBEAT}s: {times}"
    assert min(gaps) >= HEARTBEAT - 3, f"renewed more often than every {HEARTBEAT}s: {gaps}"
    # No status heartbeat: the node's status was not rewritten while nothing changed.
    after = ready(get_json(tenant, "node", vnode)).get("lastHeartbeatTime")
    assert after == heartbeat_before
    tenant.kubectl("delete", "namespace", ns, "--wait=false")
