"""lazy_k8s: the syncer starts without kubernetes-asyncio's generated APIs and models, and
every other use of the package still finds them. Each case runs in a fresh interpreter:
the import state of this one is shared by every test."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def run(code: str) -> str:
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_the_daemon_imports_neither_the_generated_apis_nor_the_models() -> None:
    assert run("""
        import sys
        import syncer.daemon
        heavy = [m for m in sys.modules if m.startswith(("kubernetes_asyncio.client.api.",
                                                         "kubernetes_asyncio.client.models."))]
        print(len(heavy), "ApiClient" in vars(sys.modules["kubernetes_asyncio.client"]))
        """) == "0 True"


def test_the_rest_of_the_package_loads_when_it_is_asked_for() -> None:
    assert run("""
        import asyncio
        import types
        import syncer
        import kubernetes_asyncio
        from kubernetes_asyncio.client import ApiClient, BatchV1Api, CoreV1Api, V1Pod
        from kubernetes_asyncio.client.api_client import ApiClient as Direct
        import kubernetes_asyncio.client.models as models

        async def deserialize() -> str:
            async with ApiClient() as api:
                answer = types.SimpleNamespace(data='{"metadata": {"name": "p"}}')
                return api.deserialize(answer, "V1Pod").metadata.name

        print(kubernetes_asyncio.__version__ != "", Direct is ApiClient, models.V1Pod is V1Pod,
              kubernetes_asyncio.client.api.CoreV1Api is CoreV1Api, BatchV1Api.__name__,
              asyncio.run(deserialize()))
        """) == "True True True True BatchV1Api p"


def test_installed_after_kubernetes_asyncio_it_does_nothing() -> None:
    assert run("""
        import kubernetes_asyncio.client
        from syncer import lazy_k8s
        lazy_k8s.install()
        print(hasattr(kubernetes_asyncio.client, "CoreV1Api"))
        """) == "True"
