"""Fairness between tenants (issue 16 part 4): a quiet tenant while a greedy one rolls out.

On a running sandbox with its syncer (`make up`, or `hack/sandbox --dir D up --with-syncer`):

1. quiet alone: tenant-b creates Q bare pods one at a time, each waited for until Running;
2. then tenant-a rolls out a Deployment of N replicas, and once its first pods exist,
   tenant-b creates Q more pods one at a time the same way.

Prints, for each phase, the quiet tenant's create-to-Running (p50, p99, max; local clock,
from the create call to the tenant watch seeing Running) and both tenants' mean queue wait
in the syncer (``fusionvc_queue_wait_seconds`` sum/count over the phase), plus how far the
greedy rollout was when the quiet tenant finished. Both phases run in one process, side
by side, so the ratio is the figure to read.

    PYTHONPATH=.:hack/bench .venv/bin/python hack/bench/fairness.py --replicas 3000 --quiet 20
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

from common import percentile, sandbox_status
from syncer_scrape import Histo, histograms, scrape_text
from syncer_throughput import DEPLOYMENTS, Tracker, clients, deployment, pod_spec, track, until

from syncer.kube.apis import NAMESPACES, PODS
from syncer.kube.client import KubeClient

GREEDY, QUIET = "tenant-a", "tenant-b"


def queue_wait(metrics_url: str) -> dict[str, Histo]:
    """The syncer's queue wait histogram, by tenant."""
    return histograms(scrape_text(metrics_url), "fusionvc_queue_wait_seconds", "tenant")


def mean_wait(before: dict[str, Histo], after: dict[str, Histo], tenant: str) -> float:
    return after.get(tenant, Histo()).minus(before.get(tenant)).mean()


async def quiet_pods(client: KubeClient, ns: str, tracker: Tracker, count: int,
                     prefix: str) -> list[float]:
    """Creates pods one at a time; each one's seconds from the create call to Running."""
    took: list[float] = []
    for i in range(count):
        name = f"{prefix}-{i:03d}"
        start = time.perf_counter()
        await client.create(PODS, {"metadata": {"name": name}, "spec": pod_spec()},
                            namespace=ns)
        done = await until(lambda n=name: n in tracker.running, 300, f"{name} Running")
        took.append(done - start)
    return took


def summary(values: list[float]) -> dict[str, float]:
    return {"p50_s": round(percentile(values, 0.5), 3), "p99_s": round(percentile(values, 0.99), 3),
            "max_s": round(max(values), 3)}


async def run(args: argparse.Namespace) -> dict[str, Any]:
    status = sandbox_status(args.state_dir)
    if not status.get("syncer"):
        raise SystemExit("no syncer in the sandbox: start it with the sandbox (--with-syncer)")
    metrics_url, cl = status["syncer"]["metrics"], await clients(status)
    stamp = int(time.time())
    quiet_ns, greedy_ns = f"fair-quiet-{stamp}", f"fair-greedy-{stamp}"
    await cl[QUIET].create(NAMESPACES, {"metadata": {"name": quiet_ns}})
    await cl[GREEDY].create(NAMESPACES, {"metadata": {"name": greedy_ns}})
    quiet, greedy = Tracker(), Tracker()
    tasks = [asyncio.create_task(track(cl[QUIET], quiet_ns, quiet)),
             asyncio.create_task(track(cl[GREEDY], greedy_ns, greedy))]
    await asyncio.sleep(2)  # both watches running (and default ServiceAccounts made)
    try:
        before = queue_wait(metrics_url)
        alone = await quiet_pods(cl[QUIET], quiet_ns, quiet, args.quiet, "alone")
        mid = queue_wait(metrics_url)
        rollout_start = time.perf_counter()
        await cl[GREEDY].create(DEPLOYMENTS, deployment(greedy_ns, args.replicas),
                                namespace=greedy_ns)
        await until(lambda: len(greedy.seen) >= min(100, args.replicas), 300,
                    "the greedy rollout's first pods")
        during = await quiet_pods(cl[QUIET], quiet_ns, quiet, args.quiet, "during")
        after = queue_wait(metrics_url)
        greedy_at_end = (len(greedy.seen), len(greedy.running))
        await until(lambda: len(greedy.running) >= args.replicas, args.rollout_timeout,
                    "the greedy rollout Running")
        rollout_s = time.perf_counter() - rollout_start
    finally:
        for task in tasks:
            task.cancel()
        for tenant, ns in ((QUIET, quiet_ns), (GREEDY, greedy_ns)):
            await cl[tenant].delete(NAMESPACES, ns)
        for client in cl.values():
            await client.close()
    return {
        "quiet_alone": {**summary(alone), "queue_wait_mean_s": round(
            mean_wait(before, mid, QUIET), 4)},
        "quiet_during_rollout": {**summary(during), "queue_wait_mean_s": round(
            mean_wait(mid, after, QUIET), 4)},
        "greedy_queue_wait_mean_s": round(mean_wait(mid, after, GREEDY), 4),
        "greedy_pods_seen_running_when_quiet_done": greedy_at_end,
        "greedy_rollout_s": round(rollout_s, 1),
        "p99_ratio_during_over_alone": round(percentile(during, 0.99)
                                             / percentile(alone, 0.99), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--state-dir", default=None, help="sandbox state dir (default .sandbox)")
    parser.add_argument("--replicas", type=int, default=3000, help="greedy Deployment size")
    parser.add_argument("--quiet", type=int, default=20, help="quiet pods per phase")
    parser.add_argument("--rollout-timeout", type=float, default=1800)
    args = parser.parse_args()
    result = asyncio.run(run(args))
    for key, value in result.items():
        print(f"{key}: {value}")


if __name__ == "__main__":
    main()
