"""Logging: JSON shape, context binding, stdlib routing and secret redaction."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
import structlog

from syncer.ops.logs import (
    REDACTED,
    configure_logging,
    get_logger,
    log_context,
    redact,
    redact_text,
    shutdown_logging,
)

Lines = Callable[[], list[str]]


@pytest.fixture
def configure() -> Iterator[Callable[[str, str], Lines]]:
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level

    def setup(fmt: str, level: str = "info") -> Lines:
        stream = io.StringIO()
        configure_logging(fmt, level, stream=stream)

        def lines() -> list[str]:
            shutdown_logging()  # flushes the writer thread
            return stream.getvalue().splitlines()

        return lines

    yield setup
    shutdown_logging()
    root.handlers[:] = saved_handlers
    root.setLevel(saved_level)
    structlog.reset_defaults()


def records(lines: Lines) -> list[dict[str, Any]]:
    return [json.loads(line) for line in lines()]


def test_json_line_shape(configure: Callable[[str, str], Lines]) -> None:
    lines = configure("json", "info")
    get_logger("syncer.test").info("synced", objects=3)
    [line] = records(lines)
    assert line["event"] == "synced"
    assert line["objects"] == 3
    assert line["level"] == "info"
    assert line["logger"] == "syncer.test"
    assert line["timestamp"].endswith("Z")
    assert datetime.fromisoformat(line["timestamp"]).utcoffset() == timedelta(0)


def test_level_filters(configure: Callable[[str, str], Lines]) -> None:
    lines = configure("json", "warning")
    log = get_logger("syncer.test")
    log.info("quiet")
    log.warning("loud")
    logging.getLogger("aiohttp.client").info("quiet too")
    assert [r["event"] for r in records(lines)] == ["loud"]


def test_context_is_bound_and_reaches_stdlib_loggers(configure: Callable[..., Lines]) -> None:
    lines = configure("json", "info")
    with log_context(tenant="tenant-a", cluster="edge-1", key="Pod/default/web"):
        get_logger("syncer.reconcile").info("applied")
        logging.getLogger("kubernetes_asyncio.rest").warning("retrying %s", "GET")
    get_logger("syncer.reconcile").info("outside")
    inside_1, inside_2, outside = records(lines)
    for line in (inside_1, inside_2):
        assert (line["tenant"], line["cluster"], line["key"]) == (
            "tenant-a", "edge-1", "Pod/default/web")
    assert inside_2["event"] == "retrying GET"
    assert inside_2["logger"] == "kubernetes_asyncio.rest"
    assert "tenant" not in outside


async def test_context_stays_inside_its_task(configure: Callable[..., Lines]) -> None:
    lines = configure("json", "info")
    log = get_logger("syncer.reconcile")

    async def reconcile(tenant: str) -> None:
        with log_context(tenant=tenant, cluster=None, key=f"{tenant}/x"):
            await asyncio.sleep(0.01)
            log.info("done")

    await asyncio.gather(reconcile("a"), reconcile("b"))
    logged = records(lines)
    assert {(r["tenant"], r["key"]) for r in logged} == {("a", "a/x"), ("b", "b/x")}
    assert all("cluster" not in r for r in logged)  # None values are left out


def test_secrets_are_redacted_in_json(configure: Callable[..., Lines]) -> None:
    lines = configure("json", "info")
    kubeconfig = ("users:\n- user:\n    client-certificate-data: LS0tQ0VSVA==\n"
                  "    client-key-data: LS0tS0VZ\n    token: abc.def\n")
    get_logger("syncer.test").info(
        "loaded",
        token="t0k3n",
        bearer_token="x",
        password="hunter2",
        headers={"Authorization": "Bearer abc", "Accept": "application/json"},
        secret={"kind": "Secret", "metadata": {"name": "kc"},
                "data": {"kubeconfig": "c2VjcmV0"}, "stringData": {"k": "v"}},
        config={"client-key-data": "LS0t", "client-certificate-data": "LS0t", "server": "s"},
        note="sent Authorization: Bearer eyJhbGciOi.x.y to the server",
        raw=kubeconfig,
    )
    [line] = records(lines)
    text = json.dumps(line)
    for leaked in ("t0k3n", "hunter2", "c2VjcmV0", "eyJhbGciOi", "LS0t", "abc.def", '"v"'):
        assert leaked not in text
    assert line["token"] == line["password"] == line["bearer_token"] == REDACTED
    assert line["headers"] == {"Authorization": REDACTED, "Accept": "application/json"}
    assert line["secret"]["data"] == {"kubeconfig": REDACTED}
    assert line["secret"]["stringData"] == {"k": REDACTED}
    assert line["secret"]["metadata"] == {"name": "kc"}
    assert line["config"]["server"] == "s"
    assert line["note"] == "sent Authorization: Bearer [REDACTED] to the server"


def test_stdlib_messages_and_exceptions_are_redacted(configure: Callable[..., Lines]) -> None:
    lines = configure("json", "info")
    logging.getLogger("aiohttp.client").warning("header Authorization: Basic dXNlcjpwYXNz")
    try:
        raise RuntimeError("request failed with token=s3cr3t")
    except RuntimeError:
        get_logger("syncer.test").exception("boom")
    first, second = records(lines)
    assert first["event"] == f"header Authorization: Basic {REDACTED}"
    assert "s3cr3t" not in second["exception"]
    assert "RuntimeError" in second["exception"]


def test_console_format_is_readable(configure: Callable[..., Lines]) -> None:
    lines = configure("console", "debug")
    get_logger("syncer.test").info("hello", tenant="a", token="zz")
    [line] = lines()
    assert "hello" in line and "tenant=a" in line and "[info" in line
    assert "zz" not in line


def test_bad_format_and_level() -> None:
    with pytest.raises(ValueError, match="log format"):
        configure_logging("xml", "info")
    with pytest.raises(ValueError, match="log level"):
        configure_logging("json", "loud")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("no secrets here", "no secrets here"),
        ("Bearer abc.DEF-123", f"Bearer {REDACTED}"),
        ('{"token": "abc"}', f'{{"token": "{REDACTED}"}}'),
        ("access_token=abc&x=1", f"access_token={REDACTED}&x=1"),
        ("-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----", REDACTED),
    ],
)
def test_redact_text(value: str, expected: str) -> None:
    assert redact_text(value) == expected


def test_redact_walks_lists_and_keeps_secret_names() -> None:
    value = {"items": [{"kind": "Secret", "data": {"a": "b"}}], "kubeconfigSecretRef":
             {"name": "tenant-a-kubeconfig"}, "apiKey": "k", "privateKey": "p"}
    assert redact(value) == {
        "items": [{"kind": "Secret", "data": {"a": REDACTED}}],
        "kubeconfigSecretRef": {"name": "tenant-a-kubeconfig"},
        "apiKey": REDACTED, "privateKey": REDACTED,
    }
