"""The real syncer daemon as a child process, pointed at the test sandbox."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families
from sandbox_lib.kubelet import syncer_args as kubelet_endpoint_args
from sandbox_lib.processes import free_port

from .sandbox_fixture import REPO, SandboxHandle


@dataclass
class SyncerProcess:
    sandbox: SandboxHandle
    name: str = "syncer"
    extra_args: tuple[str, ...] = ()
    port: int = field(default_factory=free_port)
    kubelet_port: int = 0
    proc: subprocess.Popen[bytes] | None = None

    @property
    def log_path(self) -> Path:
        return self.sandbox.dir / "logs" / f"{self.name}.log"

    def start(self, wait_ready: bool = True) -> SyncerProcess:
        env = {**os.environ, "NO_PROXY": "127.0.0.1,localhost", "FUSIONVC_LOG_FORMAT": "json",
               "FUSIONVC_CHECK_SHARED": "1"}
        argv = [sys.executable, "-m", "syncer",
                f"--kubeconfig={self.sandbox['management'].kubeconfig}",
                f"--http-port={self.port}", "--http-host=127.0.0.1",
                f"--leader-identity={self.name}", *self.kubelet_args(), *self.extra_args]
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(argv, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                                         env=env)
        if wait_ready:
            wait_for(lambda: self.http("/readyz")[0] == 200, 60, f"{self.name} /readyz")
        return self

    def kubelet_args(self) -> list[str]:
        """The kubelet endpoint on a port of its own (hack/sandbox_lib/kubelet.py)."""
        state = json.loads((self.sandbox.dir / "state.json").read_text())
        if not state.get("kubelet"):
            return []
        if not self.kubelet_port:
            self.kubelet_port = free_port()
        return kubelet_endpoint_args(state, self.kubelet_port)

    def http(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as r:
                return int(r.status), r.read().decode()
        except urllib.error.HTTPError as err:
            return int(err.code), err.read().decode()
        except OSError:
            return 0, ""

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def terminate(self, timeout: float = 60) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def stop(self) -> None:
        """SIGTERM (SIGKILL when it outlives 60 s); nothing when it is not running."""
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            self.terminate(60)
        except subprocess.TimeoutExpired:
            self.kill()

    def metrics(self) -> dict[str, Metric]:
        """/metrics parsed, by family name (counters without ``_total``)."""
        status, text = self.http("/metrics")
        assert status == 200, f"/metrics of {self.name} answered {status}"
        return {f.name: f for f in text_string_to_metric_families(text)}

    def log_lines(self) -> list[dict[str, Any]]:
        lines = []
        for raw in self.log_path.read_text(errors="replace").splitlines():
            try:
                lines.append(json.loads(raw))
            except ValueError:
                continue
        return lines


@contextmanager
def running_syncers(sandbox: SandboxHandle, *names: str) -> Iterator[list[SyncerProcess]]:
    """Syncer processes (names are identities and log files), ready, stopped at the end."""
    procs = [SyncerProcess(sandbox, name=name) for name in names]
    try:
        for proc in procs:
            proc.start()
        yield procs
    finally:
        for proc in procs:
            proc.stop()


def metric_samples(families: dict[str, Metric], sample: str, **labels: str) -> list[float]:
    """Values of the samples named ``sample`` whose labels include ``labels``."""
    return [s.value for f in families.values() for s in f.samples
            if s.name == sample and labels.items() <= s.labels.items()]


def wait_for(check: Callable[[], Any], timeout: float, what: str, every: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})")
