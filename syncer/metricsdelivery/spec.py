"""A MetricsDelivery's spec and credentials, validated (pure).

``spec.url`` (http or https, with a host), ``spec.credentialsSecretRef.name`` (a Secret
in the same namespace holding ``username``/``password`` for Basic auth or ``token``
for a bearer token), ``spec.intervalSeconds`` (default 15), ``spec.metrics`` (metric
names to deliver; empty: all), ``spec.bufferSamples`` (samples kept while the receiver
is unavailable; the oldest are dropped past it), ``spec.maxSamplesPerSend``.
"""

from __future__ import annotations

import base64
import urllib.parse
from dataclasses import dataclass

from syncer.kube import Obj

DEFAULT_INTERVAL_S = 15
DEFAULT_BUFFER = 100_000
DEFAULT_PER_SEND = 5_000


class DeliverySpecError(ValueError):
    """The spec cannot be used; the message is for the tenant, the reason for conditions."""

    def __init__(self, message: str, reason: str = "InvalidSpec") -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class DeliverySpec:
    url: str
    secret_name: str | None = None
    interval_s: float = DEFAULT_INTERVAL_S
    metrics: frozenset[str] = frozenset()
    buffer_samples: int = DEFAULT_BUFFER
    max_samples_per_send: int = DEFAULT_PER_SEND

    def wants(self, name: str) -> bool:
        return not self.metrics or name in self.metrics


def _positive_int(spec: Obj, key: str, default: int) -> int:
    value = spec.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise DeliverySpecError(f"spec.{key} must be a positive integer, not {value!r}")
    return value


def parse_spec(spec: Obj) -> DeliverySpec:
    url = spec.get("url")
    if not isinstance(url, str):
        raise DeliverySpecError("spec.url is required")
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise DeliverySpecError(f"spec.url {url!r} is not an http(s) URL with a host")
    try:
        _ = parsed.port
    except ValueError as err:
        raise DeliverySpecError(f"spec.url {url!r}: {err}") from None
    ref = spec.get("credentialsSecretRef") or {}
    secret = ref.get("name") if isinstance(ref, dict) else None
    metrics = spec.get("metrics") or []
    if not isinstance(metrics, list) or not all(isinstance(m, str) and m for m in metrics):
        raise DeliverySpecError("spec.metrics must be a list of metric names")
    return DeliverySpec(url, secret if isinstance(secret, str) and secret else None,
                        float(_positive_int(spec, "intervalSeconds", DEFAULT_INTERVAL_S)),
                        frozenset(metrics), _positive_int(spec, "bufferSamples", DEFAULT_BUFFER),
                        _positive_int(spec, "maxSamplesPerSend", DEFAULT_PER_SEND))


def _decoded(data: Obj, key: str) -> str | None:
    raw = data.get(key)
    if not isinstance(raw, str):
        return None
    try:
        return base64.b64decode(raw, validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        return None


def auth_headers(secret: Obj) -> dict[str, str]:
    """The Authorization header the Secret describes; DeliverySpecError when it has none."""
    data = secret.get("data") or {}
    token = _decoded(data, "token")
    if token:
        return {"Authorization": f"Bearer {token}"}
    user, password = _decoded(data, "username"), _decoded(data, "password")
    if user is not None and password is not None:
        basic = base64.b64encode(f"{user}:{password}".encode()).decode()
        return {"Authorization": f"Basic {basic}"}
    name = secret["metadata"]["name"]
    raise DeliverySpecError(f'Secret "{name}" has neither "token" nor "username" and '
                            '"password"', "InvalidCredentials")
