"""The dataset downloader (issue 15) as a real process against a real local HTTP server
(127.0.0.1) serving a real file: download, resume after a dropped connection, a checksum
mismatch that leaves nothing behind, and a second run that finds the file already there."""

from __future__ import annotations

import asyncio
import hashlib
import os
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import web

REPO = Path(__file__).resolve().parents[2]
MODEL = os.urandom(3 * 1024 * 1024 + 123)  # a real file's bytes (3 MB)
SHA = hashlib.sha256(MODEL).hexdigest()


@dataclass
class ModelServer:
    """Serves MODEL at /models/qwen.bin with Range support; ``drop_after`` cuts the
    next full transfer after that many bytes (the connection is closed mid-body)."""

    url: str = ""
    ranges: list[str | None] = field(default_factory=list)
    drop_after: int | None = None


async def _serve(server: ModelServer, request: web.Request) -> web.StreamResponse:
    header = request.headers.get("Range")
    server.ranges.append(header)
    start = int(header.removeprefix("bytes=").rstrip("-")) if header else 0
    body = MODEL[start:]
    resp = web.StreamResponse(status=206 if header else 200)
    resp.content_length = len(body)
    if header:
        resp.headers["Content-Range"] = f"bytes {start}-{len(MODEL) - 1}/{len(MODEL)}"
    await resp.prepare(request)
    if server.drop_after is not None and not header:
        await resp.write(body[:server.drop_after])
        server.drop_after = None
        assert request.transport is not None
        request.transport.abort()  # the connection dies mid-transfer
        return resp
    await resp.write(body)
    await resp.write_eof()
    return resp


@pytest.fixture
async def model_server() -> AsyncIterator[ModelServer]:
    server = ModelServer()
    app = web.Application()

    async def handler(request: web.Request) -> web.StreamResponse:
        return await _serve(server, request)

    app.router.add_get("/models/qwen.bin", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    server.url = f"http://127.0.0.1:{port}/models/qwen.bin"
    yield server
    await runner.cleanup()


async def run_fetch(*args: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "syncer.datasetfetch", "--backoff=0.05", "--read-timeout=10",
        *args, cwd=REPO, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    _out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, err.decode()


async def test_downloads_verifies_and_marks_ready(model_server: ModelServer,
                                                  tmp_path: Path) -> None:
    log = tmp_path / "termination-log"
    code, err = await run_fetch("--url", model_server.url, "--sha256", SHA,
                                "--dest", str(tmp_path / "ds"), "--termination-log", str(log))
    assert code == 0, err
    assert (tmp_path / "ds" / "qwen.bin").read_bytes() == MODEL
    assert (tmp_path / "ds" / ".ready").read_text().strip() == SHA
    assert log.read_text().startswith("Ready: qwen.bin (3145851 bytes, downloaded)")
    assert model_server.ranges == [None]
    # A second run (a Job retried, a node re-targeted) finds it there and transfers nothing.
    code, err = await run_fetch("--url", model_server.url, "--sha256", SHA,
                                "--dest", str(tmp_path / "ds"))
    assert code == 0 and "already there" in err
    assert model_server.ranges == [None]


async def test_a_dropped_connection_resumes_where_it_stopped(model_server: ModelServer,
                                                             tmp_path: Path) -> None:
    model_server.drop_after = 1024 * 1024
    code, err = await run_fetch("--url", model_server.url, "--sha256", SHA,
                                "--dest", str(tmp_path / "ds"))
    assert code == 0, err
    assert (tmp_path / "ds" / "qwen.bin").read_bytes() == MODEL
    assert model_server.ranges[0] is None
    resumed_at = int(model_server.ranges[1].removeprefix("bytes=").rstrip("-"))  # type: ignore[union-attr]
    assert 0 < resumed_at <= 1024 * 1024 and f"resumed at {resumed_at} bytes" in err


async def test_a_partial_file_left_by_a_killed_run_is_resumed(model_server: ModelServer,
                                                              tmp_path: Path) -> None:
    dest = tmp_path / "ds"
    dest.mkdir()
    (dest / ".qwen.bin.part").write_bytes(MODEL[:2_000_000])
    code, err = await run_fetch("--url", model_server.url, "--sha256", SHA, "--dest", str(dest))
    assert code == 0, err
    assert model_server.ranges == ["bytes=2000000-"]
    assert (dest / "qwen.bin").read_bytes() == MODEL and not (dest / ".qwen.bin.part").exists()


async def test_a_checksum_mismatch_fails_and_leaves_nothing(model_server: ModelServer,
                                                            tmp_path: Path) -> None:
    log, dest = tmp_path / "termination-log", tmp_path / "ds"
    code, err = await run_fetch("--url", model_server.url, "--sha256", "0" * 64,
                                "--dest", str(dest), "--termination-log", str(log))
    assert code == 3, err
    assert log.read_text().startswith(f"ChecksumMismatch: sha256 of qwen.bin is {SHA}")
    assert list(dest.iterdir()) == []


async def test_an_unreachable_source_is_a_transfer_failure(tmp_path: Path) -> None:
    code, err = await run_fetch("--url", "http://127.0.0.1:9/none.bin", "--sha256", SHA,
                                "--dest", str(tmp_path / "ds"), "--retries=1")
    assert code == 4 and "TransferFailed: transfer failed after 2 attempts" in err
