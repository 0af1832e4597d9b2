"""A real Prometheus server as remote-write receiver (Debian's package, `make prometheus`).

Started lazily by the delivery tests on 127.0.0.1 with --web.enable-remote-write-receiver
and basic auth (a web config with one bcrypt-hashed user), nothing scraped. It can be
stopped and started again on the same port and storage (a receiver that goes away).
Outside CI a machine without `prometheus` skips; in CI that is a failure.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import bcrypt
import pytest
import yaml

from .syncer_fixture import free_port

USER, PASSWORD = "tenant-a", "s3cret-remote-write"


class PrometheusServer:
    def __init__(self, folder: Path) -> None:
        exe = shutil.which("prometheus")
        if exe is None:
            reason = "prometheus is not installed (make prometheus)"
            if os.environ.get("CI") == "true":
                pytest.fail(f"integration prerequisites missing in CI: {reason}")
            pytest.skip(reason)
        self.exe, self.dir, self.port = exe, folder, free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "prometheus.yml").write_text(yaml.safe_dump(
            {"global": {"scrape_interval": "1m"}, "scrape_configs": []}))
        hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
        (folder / "web.yml").write_text(yaml.safe_dump({"basic_auth_users": {USER: hashed}}))

    @property
    def write_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v1/write"

    def start(self) -> PrometheusServer:
        log = (self.dir / "prometheus.log").open("ab")
        self.proc = subprocess.Popen(
            [self.exe, f"--config.file={self.dir / 'prometheus.yml'}",
             f"--web.config.file={self.dir / 'web.yml'}",
             f"--web.listen-address=127.0.0.1:{self.port}",
             f"--storage.tsdb.path={self.dir / 'data'}", "--storage.tsdb.retention.time=2h",
             "--web.enable-remote-write-receiver", "--log.level=warn"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"prometheus exited; see {self.dir / 'prometheus.log'}")
            try:
                self._get("/-/ready")
                return self
            except (urllib.error.URLError, OSError):
                time.sleep(0.5)
        raise RuntimeError("prometheus not ready in 120 s")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
            self.proc = None

    def _get(self, path: str, **query: str) -> Any:
        url = f"http://127.0.0.1:{self.port}{path}"
        if query:
            url += "?" + urllib.parse.urlencode(query)
        auth = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        request = urllib.request.Request(url, headers={"Authorization": f"Basic {auth}"})
        with urllib.request.urlopen(request, timeout=10) as resp:
            body = resp.read()
        return json.loads(body) if path.startswith("/api/") else body

    def query(self, promql: str, at: float | None = None) -> list[dict[str, Any]]:
        """An instant PromQL query over the HTTP API: the result vector."""
        params = {"query": promql, **({"time": f"{at:.3f}"} if at is not None else {})}
        answer = self._get("/api/v1/query", **params)
        assert answer["status"] == "success", answer
        return list(answer["data"]["result"])

    def series(self, match: str) -> list[dict[str, str]]:
        answer = self._get("/api/v1/series", **{"match[]": match})
        return list(answer["data"])
