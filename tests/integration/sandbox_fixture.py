"""One sandbox of real clusters for the whole test session, driven through hack/sandbox.

The sandbox lives in .sandbox-test (or $FUSIONVC_TEST_SANDBOX_DIR) so it never
touches the one `make up` runs. It is stopped at the end of the session; its
logs are kept when a test failed. FUSIONVC_TEST_KEEP_SANDBOX=1 leaves it
running for a faster next run. Outside CI a machine without the binaries or
the Go toolchain skips the integration tests; in CI that is a failure.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from kubernetes_asyncio.client import ApiClient
from kubernetes_asyncio.config import new_client_from_config

REPO = Path(__file__).resolve().parents[2]
SANDBOX = REPO / "hack" / "sandbox"


@dataclass(frozen=True)
class Cluster:
    name: str
    role: str
    region: str | None
    url: str
    kubeconfig: str
    syncer_kubeconfig: str

    def kubectl(
        self, *args: str, stdin: str | None = None, check: bool = True, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        out = subprocess.run(
            ["kubectl", f"--kubeconfig={self.kubeconfig}", *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and out.returncode != 0:  # say what kubectl said, not only its exit code
            raise AssertionError(f"kubectl {' '.join(args)} on {self.name} exited "
                                 f"{out.returncode}: {out.stderr.strip()[-2000:]}")
        return out

    @asynccontextmanager
    async def client(self) -> AsyncIterator[ApiClient]:
        api = await new_client_from_config(config_file=self.kubeconfig)
        try:
            yield api
        finally:
            await api.close()


@dataclass
class SandboxHandle:
    dir: Path
    clusters: dict[str, Cluster]

    def __getitem__(self, name: str) -> Cluster:
        return self.clusters[name]

    def by_role(self, role: str) -> list[Cluster]:
        return [c for c in self.clusters.values() if c.role == role]

    def run(
        self, *args: str, check: bool = True, timeout: float = 900
    ) -> subprocess.CompletedProcess[str]:
        return run_sandbox("--dir", str(self.dir), *args, check=check, timeout=timeout)

    def status(self) -> dict[str, Any]:
        return json.loads(self.run("status", "--json").stdout)


def run_sandbox(
    *args: str, check: bool = True, timeout: float = 900
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SANDBOX), *args], capture_output=True, text=True, timeout=timeout, check=check
    )


def unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"integration prerequisites missing in CI: {reason}")
    pytest.skip(reason)


def start_sandbox(state_dir: Path) -> SandboxHandle:
    if shutil.which("kubectl") is None:
        unavailable("kubectl is not installed")
    if shutil.which("go") is None and not _bins_built():
        unavailable("neither the Go toolchain nor built cluster binaries are present")
    proc = run_sandbox("--dir", str(state_dir), "up", check=False)
    if proc.returncode != 0:
        pytest.fail(f"hack/sandbox up failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    handle = SandboxHandle(state_dir, {})
    for c in handle.status()["clusters"]:
        handle.clusters[c["name"]] = Cluster(
            c["name"], c["role"], c["region"], c["url"], c["kubeconfig"], c["syncerKubeconfig"]
        )
    return handle


def _bins_built() -> bool:
    out = subprocess.run(
        ["bash", str(REPO / "hack/build-bins"), "--print-dir"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return bool(out) and all(
        (Path(out) / b).exists()
        for b in ("kube-apiserver", "kube-controller-manager", "etcd", "kwok", "metrics-server")
    )
