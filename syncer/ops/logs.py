"""Logging of the syncer: structlog on top of the standard library.

This module owns how every log line looks and where it goes:

- one renderer for structlog loggers and for stdlib loggers (aiohttp,
  kubernetes_asyncio): JSON lines (``json``) or a readable console
  (``console``), with an ISO-8601 UTC ``timestamp``, ``level`` and ``logger``;
- context bound with :func:`log_context` (``tenant``, ``cluster``, ``key``,
  ...) lands on every line logged inside it, including lines from other
  modules, because it lives in :mod:`contextvars` (one copy per asyncio task);
- a redaction processor replaces credentials with ``[REDACTED]``;
- lines are formatted in the caller's thread but written to the stream by a
  background thread (``QueueHandler``), so a slow stdout never blocks the
  event loop. :func:`shutdown_logging` flushes it (also run at exit).
"""

from __future__ import annotations

import atexit
import logging
import logging.handlers
import queue
import re
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TextIO

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

REDACTED = "[REDACTED]"
FORMATS = ("json", "console")

# Keys whose value is always secret, compared without case, "-" or "_".
_SECRET_KEY_PARTS = ("token", "password", "passwd", "apikey", "privatekey")
_SECRET_KEYS = frozenset({
    "authorization", "proxyauthorization", "cookie", "setcookie",
    "clientkeydata", "clientcertificatedata", "clientkey", "clientsecret",
})
# Keys of a Secret object whose values are secret (the keys themselves are kept).
_SECRET_DATA_KEYS = ("data", "stringData", "string_data")
# Applied in order to every string; the scheme word (Bearer, Basic) is kept.
_STRING_PATTERNS = (
    (re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]+"), r"\1 " + REDACTED),
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----",
                re.DOTALL), REDACTED),
    (re.compile(r"(?i)((?:client-key-data|client-certificate-data|token|password|authorization)"
                r"[\"']?\s*[:=]\s*[\"']?(?:(?:basic|bearer)\s+)?)[^\s\"',;&}]+"),
     r"\1" + REDACTED),
)
_MAX_DEPTH = 12

_listener: logging.handlers.QueueListener | None = None


def _normal(key: object) -> str:
    return str(key).lower().replace("-", "").replace("_", "")


def _is_secret_key(key: object) -> bool:
    name = _normal(key)
    return name in _SECRET_KEYS or any(part in name for part in _SECRET_KEY_PARTS)


def redact_text(text: str) -> str:
    """Bearer/basic credentials, PEM private keys and ``token: x`` pairs inside a string."""
    for pattern, replacement in _STRING_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _is_secret_object(value: Mapping[Any, Any], type_name: str) -> bool:
    return value.get("kind") == "Secret" or type_name == "V1Secret"


def redact(value: Any, depth: int = 0) -> Any:
    """A copy of ``value`` with credentials replaced; containers are walked."""
    if depth > _MAX_DEPTH:
        return value
    if isinstance(value, str):
        return redact_text(value)
    type_name = type(value).__name__
    if hasattr(value, "to_dict") and type(value).__module__.startswith("kubernetes_asyncio"):
        value = value.to_dict()  # API models: logged as plain data
    if isinstance(value, Mapping):
        secret_object = _is_secret_object(value, type_name)
        out: dict[Any, Any] = {}
        for key, item in value.items():
            if _is_secret_key(key):
                out[key] = REDACTED
            elif secret_object and key in _SECRET_DATA_KEYS and isinstance(item, Mapping):
                out[key] = dict.fromkeys(item, REDACTED)
            else:
                out[key] = redact(item, depth + 1)
        return out
    if isinstance(value, list | tuple | set | frozenset):
        return [redact(item, depth + 1) for item in value]
    return value


def redact_processor(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """structlog processor applying :func:`redact` to every field of a line."""
    redacted: EventDict = redact(event_dict)
    return redacted


def _shared_processors() -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.ExtraAdder(),
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
        structlog.processors.format_exc_info,  # before redaction: tracebacks are text too
        redact_processor,
    ]


def _renderer(fmt: str) -> Processor:
    if fmt == "json":
        return structlog.processors.JSONRenderer()
    return structlog.dev.ConsoleRenderer(colors=False)


class _MessageOnly(logging.Formatter):
    """The QueueHandler already rendered the line; write it as is."""

    def format(self, record: logging.LogRecord) -> str:
        return record.getMessage()


def configure_logging(format: str, level: str, stream: TextIO | None = None) -> None:
    """Set up structlog and the stdlib root logger; call once at start-up.

    ``format`` is ``json`` or ``console``; ``level`` a stdlib level name
    (``debug``, ``info``, ...). ``stream`` defaults to stdout.
    """
    if format not in FORMATS:
        raise ValueError(f"log format must be one of {', '.join(FORMATS)}, got {format!r}")
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        raise ValueError(f"unknown log level {level!r}")
    shutdown_logging()
    shared = _shared_processors()
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, _renderer(format)],
    )
    records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    front = logging.handlers.QueueHandler(records)
    front.setFormatter(formatter)
    back = logging.StreamHandler(stream or sys.stdout)
    back.setFormatter(_MessageOnly())
    global _listener
    _listener = logging.handlers.QueueListener(records, back)
    _listener.start()
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(front)
    root.setLevel(numeric)
    # Client libraries log request and response bodies (Secrets) at DEBUG.
    for noisy in ("kubernetes_asyncio", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(max(numeric, logging.INFO))
    structlog.configure(
        processors=[structlog.stdlib.filter_by_level, *shared,
                    structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def shutdown_logging() -> None:
    """Write every queued line and stop the writer thread; safe to call twice."""
    global _listener
    if _listener is not None:
        _listener.stop()
        _listener = None


atexit.register(shutdown_logging)


def get_logger(name: str) -> Any:
    """A structlog logger whose ``logger`` field is ``name``."""
    return structlog.stdlib.get_logger(name)


@contextmanager
def log_context(**fields: str | None) -> Iterator[None]:
    """Bind fields (tenant, cluster, key, ...) to every line logged inside the block.

    ``None`` values are left out, so callers can pass an optional cluster.
    """
    bound = {name: value for name, value in fields.items() if value is not None}
    with structlog.contextvars.bound_contextvars(**bound):
        yield
