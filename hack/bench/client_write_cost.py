"""Client CPU per write: KubeClient's request paths against kubernetes-asyncio's call_api.

Each sends the same pod create (server-side dry run, so nothing is stored) to one edge
API server of the running sandbox, in interleaved rounds in one process; the CPU time
of this process per call is compared (issue 16, part 2: the syncer's own cost per pod).
Three ways: call_api (aiohttp, the generated client's path), KubeClient over aiohttp
(as for a cluster behind a proxy) and KubeClient over its lean HTTP/1.1 pool (the default).

    PYTHONPATH=.:hack/bench .venv/bin/python hack/bench/client_write_cost.py [--calls 200]
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

from common import kubeconfig, sandbox_status
from kubernetes_asyncio.config import new_client_from_config
from syncer_throughput import pod_spec

from syncer.kube.client import JSON, KubeClient
from syncer.ops.event_loop import run

PATH = "/api/v1/namespaces/default/pods"


def pod(i: int) -> dict[str, Any]:
    labels = {f"bench.fusionvc.io/l{n}": f"value-{n}" for n in range(8)}
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": f"write-cost-{i}", "labels": labels,
                         "annotations": {"fusionvc.io/tenant-pod": f"tenant-a/ns/p{i}"}},
            "spec": {**pod_spec(), "nodeName": "none"}}


async def via_call_api(client: KubeClient, i: int) -> None:
    resp = await client.api.call_api(
        PATH, "POST", query_params=[("dryRun", "All")], body=pod(i),
        header_params={"Accept": JSON, "Content-Type": JSON}, auth_settings=["BearerToken"],
        _preload_content=False, _request_timeout=30)
    await resp.read()
    resp.release()


async def via_kube_client(client: KubeClient, i: int) -> None:
    await client.request("POST", PATH, query={"dryRun": "All"}, body=pod(i), decode=False)


async def via_aiohttp(client: KubeClient, i: int) -> None:
    lean, client._lean = client._lean, None  # the proxy path: aiohttp under KubeClient
    try:
        await via_kube_client(client, i)
    finally:
        client._lean = lean


async def one_round(client: KubeClient, calls: int, how: Any) -> float:
    start = time.process_time()
    for i in range(calls):
        await how(client, i)
    return (time.process_time() - start) / calls


async def main_async(args: argparse.Namespace) -> None:
    status = sandbox_status(args.state_dir)
    api = await new_client_from_config(config_file=kubeconfig(status, args.cluster))
    client = KubeClient(api, args.cluster)
    ways = {"call_api": via_call_api, "aiohttp": via_aiohttp, "KubeClient": via_kube_client}
    spent: dict[str, list[float]] = {name: [] for name in ways}
    try:
        for how in ways.values():  # warm both (connections, caches)
            await one_round(client, 20, how)
        for _ in range(args.rounds):
            for name, how in ways.items():
                spent[name].append(await one_round(client, args.calls, how))
    finally:
        await client.close()
    per_call = {name: sorted(v)[len(v) // 2] * 1000 for name, v in spent.items()}
    print(f"load average {os.getloadavg()[0]:.2f}; {args.rounds} rounds of {args.calls} calls")
    for name, ms in per_call.items():
        print(f"{name:>10}: {ms:.3f} ms CPU per call (median round)")
    print(f"KubeClient / call_api: {per_call['KubeClient'] / per_call['call_api']:.2f}; "
          f"KubeClient lean / aiohttp: {per_call['KubeClient'] / per_call['aiohttp']:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--cluster", default="edge-bj")
    parser.add_argument("--state-dir", default=None)
    run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
