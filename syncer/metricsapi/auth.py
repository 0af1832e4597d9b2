"""Who is asking: the tenant from the front-proxy certificate, the user from headers, SAR.

Every tenant apiserver publishes its requestheader settings in the ConfigMap
``kube-system/extension-apiserver-authentication`` (front-proxy CA, allowed names,
header names), as it does for any aggregated API server. A request is accepted only
over TLS with a client certificate issued directly by exactly one tenant's front-proxy
CA and named in its allowed names: that tenant is the caller's cluster (a tenant
cannot forge another tenant's front-proxy certificate). The user, groups and extra
come from that tenant's headers; a SubjectAccessReview in that tenant decides.
"""

from __future__ import annotations

import datetime as dt
import json
import ssl
import time
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.x509.oid import NameOID
from multidict import CIMultiDictProxy

from syncer.kube import Obj

AUTH_CONFIGMAP = ("kube-system", "extension-apiserver-authentication")
SAR_PATH = "/apis/authorization.k8s.io/v1/subjectaccessreviews"


@dataclass(frozen=True)
class RequestHeaderConfig:
    """One tenant apiserver's front-proxy settings."""

    ca_pem: str
    cas: tuple[x509.Certificate, ...]
    allowed_names: frozenset[str]
    username_headers: tuple[str, ...]
    group_headers: tuple[str, ...]
    extra_prefixes: tuple[str, ...]


@dataclass(frozen=True)
class UserInfo:
    name: str
    groups: tuple[str, ...] = ()
    extra: tuple[tuple[str, tuple[str, ...]], ...] = ()


def _json_list(data: Mapping[str, str], key: str) -> tuple[str, ...]:
    try:
        value = json.loads(data.get(key) or "[]")
    except ValueError:
        return ()
    return tuple(v for v in value if isinstance(v, str)) if isinstance(value, list) else ()


def parse_auth_configmap(configmap: Obj) -> RequestHeaderConfig | None:
    """The requestheader settings in the ConfigMap; None when the apiserver has none."""
    data = configmap.get("data") or {}
    pem = data.get("requestheader-client-ca-file") or ""
    try:
        cas = tuple(x509.load_pem_x509_certificates(pem.encode())) if pem else ()
    except ValueError:
        cas = ()
    usernames = _json_list(data, "requestheader-username-headers")
    if not cas or not usernames:
        return None
    return RequestHeaderConfig(pem, cas, frozenset(_json_list(data, "requestheader-allowed-names")),
                               usernames, _json_list(data, "requestheader-group-headers"),
                               _json_list(data, "requestheader-extra-headers-prefix"))


def _issued_by(leaf: x509.Certificate, ca: x509.Certificate) -> bool:
    try:
        leaf.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return False
    now = dt.datetime.now(dt.UTC)
    return ca.not_valid_before_utc <= now <= ca.not_valid_after_utc


def common_name(leaf: x509.Certificate) -> str:
    names = leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else ""


def tenants_for_certificate(leaf: x509.Certificate,
                            configs: Mapping[str, RequestHeaderConfig]) -> list[str]:
    """Tenants whose front-proxy CA issued this certificate and allow its name."""
    name = common_name(leaf)
    return [tenant for tenant, cfg in configs.items()
            if any(_issued_by(leaf, ca) for ca in cfg.cas)
            and (not cfg.allowed_names or name in cfg.allowed_names)]


def user_from_headers(headers: CIMultiDictProxy[str],
                      cfg: RequestHeaderConfig) -> UserInfo | None:
    """The user the aggregator vouches for; None without a user name header."""
    name = next((headers[h] for h in cfg.username_headers if headers.get(h)), "")
    if not name:
        return None
    groups = tuple(g for h in cfg.group_headers for g in headers.getall(h, []))
    extra: dict[str, list[str]] = {}
    for header, value in headers.items():
        for prefix in cfg.extra_prefixes:
            if header.lower().startswith(prefix.lower()):
                key = urllib.parse.unquote(header[len(prefix):].lower())
                extra.setdefault(key, []).append(value)
    return UserInfo(name, groups, tuple((k, tuple(v)) for k, v in sorted(extra.items())))


@dataclass(frozen=True)
class Attributes:
    """What the request reads, as a SubjectAccessReview's resourceAttributes."""

    verb: str
    resource: str
    namespace: str = ""
    name: str = ""
    group: str = "metrics.k8s.io"
    version: str = "v1beta1"
    subresource: str = ""


def access_review(user: UserInfo, attrs: Attributes) -> Obj:
    return {
        "apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
        "spec": {
            "user": user.name, "groups": list(user.groups),
            "extra": {k: list(v) for k, v in user.extra},
            "resourceAttributes": {"group": attrs.group, "version": attrs.version,
                                   "resource": attrs.resource, "verb": attrs.verb,
                                   "subresource": attrs.subresource,
                                   "namespace": attrs.namespace, "name": attrs.name},
        },
    }


class DecisionCache:
    """SubjectAccessReview answers for ``ttl`` seconds; at most ``size`` of them."""

    def __init__(self, ttl: float = 10.0, size: int = 10_000) -> None:
        self.ttl, self.size = ttl, size
        self._entries: dict[tuple[object, ...], tuple[float, bool]] = {}

    def get(self, key: tuple[object, ...]) -> bool | None:
        entry = self._entries.get(key)
        if entry is None or time.monotonic() - entry[0] > self.ttl:
            return None
        return entry[1]

    def put(self, key: tuple[object, ...], allowed: bool) -> None:
        if len(self._entries) >= self.size:
            self._entries.clear()
        self._entries[key] = (time.monotonic(), allowed)


def server_ssl_context(cert_file: str, key_file: str) -> ssl.SSLContext:
    """TLS that requires a client certificate; tenants' front-proxy CAs are added later."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert_file, key_file)
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx
