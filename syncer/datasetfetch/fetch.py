"""One file from an HTTP(S) URL into a folder: resumable, checksum-verified, atomic.

File I/O runs in worker threads (``asyncio.to_thread``): the event loop only
moves bytes between the socket and those threads. Every request has connect
and read timeouts; a failed attempt is retried with backoff, resuming where the
partial file ends.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO
from urllib.parse import unquote, urlsplit

import aiohttp

CHUNK = 1024 * 1024
EXIT_CHECKSUM = 3  # exit status of the command line on a checksum mismatch
EXIT_TRANSFER = 4  # ... when the transfer failed after every retry
READY = ".ready"


class FetchError(RuntimeError):
    """The transfer failed after every retry (reason in the message)."""


class ChecksumMismatch(FetchError):
    """The whole file arrived but its SHA-256 is not the expected one."""


@dataclass(frozen=True)
class FetchResult:
    path: Path
    size: int
    resumed_from: int  # bytes kept from an earlier partial transfer (0: none)
    already_there: bool = False


def file_name(url: str) -> str:
    """The file's name in the folder: the URL path's last part (``data`` when none)."""
    name = unquote(urlsplit(url).path.rsplit("/", 1)[-1])
    return name if name and name not in (".", "..") else "data"


def _hash_file(path: Path) -> tuple[hashlib._Hash, int]:
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as f:
        while block := f.read(CHUNK):
            digest.update(block)
            size += len(block)
    return digest, size


def _ready_sha(dest: Path) -> str | None:
    try:
        return (dest / READY).read_text().strip()
    except OSError:
        return None


def _publish(part: Path, final: Path, sha256: str) -> None:
    with part.open("rb") as f:
        os.fsync(f.fileno())
    part.replace(final)
    ready_tmp = final.parent / f"{READY}.tmp"
    ready_tmp.write_text(sha256 + "\n")
    ready_tmp.replace(final.parent / READY)


async def _attempt(session: aiohttp.ClientSession, url: str, part: Path,
                   digest: hashlib._Hash, have: int) -> tuple[hashlib._Hash, int, int]:
    """One request; appends to ``part``. Returns (digest, size, bytes resumed from)."""
    headers = {"Range": f"bytes={have}-"} if have else {}
    async with session.get(url, headers=headers) as resp:
        if resp.status == 416 and have:  # the partial file is already whole
            return digest, have, have
        if resp.status not in (200, 206):
            raise FetchError(f"HTTP {resp.status} from {urlsplit(url).netloc}")
        resumed = have if resp.status == 206 else 0
        if not resumed:  # the server sent the whole file: start over
            digest, have = hashlib.sha256(), 0
        f: BinaryIO = await asyncio.to_thread(part.open, "ab" if resumed else "wb")
        try:
            async for block in resp.content.iter_chunked(CHUNK):
                digest.update(block)
                await asyncio.to_thread(f.write, block)
                have += len(block)
        finally:
            await asyncio.to_thread(f.close)
    return digest, have, resumed


async def fetch(url: str, sha256: str, dest: Path, *, retries: int = 5,
                connect_timeout: float = 10.0, read_timeout: float = 60.0,
                backoff: float = 1.0) -> FetchResult:
    """Downloads ``url`` into ``dest``; raises ChecksumMismatch or FetchError."""
    sha256 = sha256.lower()
    final = dest / file_name(url)
    if await asyncio.to_thread(_ready_sha, dest) == sha256 and final.exists():
        return FetchResult(final, final.stat().st_size, 0, already_there=True)
    await asyncio.to_thread(dest.mkdir, parents=True, exist_ok=True)
    part = dest / f".{final.name}.part"
    digest, have = (await asyncio.to_thread(_hash_file, part) if part.exists()
                    else (hashlib.sha256(), 0))
    resumed = 0
    timeout = aiohttp.ClientTimeout(sock_connect=connect_timeout, sock_read=read_timeout)
    async with aiohttp.ClientSession(timeout=timeout, trust_env=False) as session:
        for attempt in range(retries + 1):
            try:
                digest, have, resumed = await _attempt(session, url, part, digest, have)
                break
            except (aiohttp.ClientError, TimeoutError, FetchError) as err:
                if attempt == retries:
                    raise FetchError(f"transfer failed after {retries + 1} attempts: "
                                     f"{err or type(err).__name__}") from None
                await asyncio.sleep(backoff * 2**attempt)
                digest, have = await asyncio.to_thread(_hash_file, part) if part.exists() \
                    else (hashlib.sha256(), 0)
    if digest.hexdigest() != sha256:
        await asyncio.to_thread(part.unlink, True)
        raise ChecksumMismatch(f"sha256 of {final.name} is {digest.hexdigest()}, "
                               f"expected {sha256}")
    await asyncio.to_thread(_publish, part, final, sha256)
    return FetchResult(final, have, resumed)
