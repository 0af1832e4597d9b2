"""Settings of the edge DNS server: flags, or FUSIONVC_EDGEDNS_* environment variables.

Flags win over the environment. A bad value raises SettingsError naming the
setting as the user wrote it (``--listen`` or ``FUSIONVC_EDGEDNS_LISTEN``).
"""

from __future__ import annotations

import argparse
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import NoReturn

from syncer.ops.settings import SettingsError

ENV_PREFIX = "FUSIONVC_EDGEDNS_"
RESOLV_CONF = "/etc/resolv.conf"
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class Listener:
    tenant: str
    host: str
    port: int


@dataclass(frozen=True)
class EdgeDNSSettings:
    kubeconfig: str | None
    listeners: tuple[Listener, ...]
    upstreams: tuple[tuple[str, int], ...]
    cluster_domain: str = "cluster.local"
    trusted_sources: tuple[IPNetwork, ...] = ()
    ttl: int = 5
    upstream_timeout_s: float = 2.0
    request_timeout_s: float = 30.0
    log_format: str = "json"
    log_level: str = "info"


# flag, help, default (None: required or computed)
_FLAGS: tuple[tuple[str, str, str | None], ...] = (
    ("--kubeconfig", "kubeconfig of THIS edge cluster; empty: in-cluster service account", ""),
    ("--listen", "TENANT=HOST:PORT[,...]: one listen address per tenant (UDP and TCP); "
     "the address a query arrives on names its tenant", None),
    ("--upstream", "HOST[:PORT][,...]: where names outside the cluster domain go; "
     f"default: the nameservers of {RESOLV_CONF}", ""),
    ("--cluster-domain", "the tenants' cluster domain", "cluster.local"),
    ("--trusted-sources", "CIDRs whose queries are answered although they are no pod IP of "
     "this cluster (a known pod IP must belong to the listener's tenant)",
     "127.0.0.0/8,::1/128"),
    ("--ttl", "TTL in seconds of the answers", "5"),
    ("--upstream-timeout", "seconds to wait for the upstream", "2"),
    ("--request-timeout", "seconds for one API request (watches excepted)", "30"),
    ("--log-format", "json or console", "json"),
    ("--log-level", "debug, info, warning or error", "info"),
)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise SettingsError(message)


def _env(flag: str) -> str:
    return ENV_PREFIX + flag[2:].upper().replace("-", "_")


def build_arg_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m syncer.edgedns",
                     description="fusionvc edge DNS: tenant Service names inside edge pods. "
                     "Precedence: flags > FUSIONVC_EDGEDNS_* environment > defaults.")
    for flag, text, default in _FLAGS:
        shown = "required" if default is None else f"default {default or 'see above'}"
        parser.add_argument(flag, dest=flag, default=argparse.SUPPRESS,
                            help=f"{text}; env {_env(flag)}; {shown}")
    return parser


def _host_port(text: str, where: str, default_port: int | None) -> tuple[str, int]:
    host, sep, port = text.strip().rpartition(":")
    if not sep or (host.count(":") and not host.startswith("[")):
        if default_port is None:
            raise SettingsError(f"{where}: {text!r} needs HOST:PORT")
        host, port = text.strip(), str(default_port)
    host = host.strip("[]")
    try:
        ipaddress.ip_address(host)
        number = int(port)
    except ValueError:
        raise SettingsError(f"{where}: {text!r} is not IP:PORT") from None
    if not 0 < number < 65536:
        raise SettingsError(f"{where}: port {number} is out of range")
    return host, number


def parse_listeners(raw: str, where: str) -> tuple[Listener, ...]:
    found: list[Listener] = []
    for item in filter(None, (p.strip() for p in raw.split(","))):
        tenant, sep, address = item.partition("=")
        if not sep or not tenant.strip():
            raise SettingsError(f"{where}: {item!r} is not TENANT=HOST:PORT")
        host, port = _host_port(address, where, None)
        if any((x.host, x.port) == (host, port) for x in found):
            raise SettingsError(f"{where}: {host}:{port} is given twice")
        found.append(Listener(tenant.strip(), host, port))
    if not found:
        raise SettingsError(f"{where}: at least one TENANT=HOST:PORT is needed")
    return tuple(found)


def resolv_conf_nameservers(path: str = RESOLV_CONF) -> list[str]:
    try:
        with open(path, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except OSError:
        return []
    return [ln.split()[1] for ln in lines if ln.startswith("nameserver") and len(ln.split()) > 1]


def _upstreams(raw: str, where: str) -> tuple[tuple[str, int], ...]:
    items = [p for p in (s.strip() for s in raw.split(",")) if p] or resolv_conf_nameservers()
    if not items:
        raise SettingsError(f"{where}: no upstream given and none in {RESOLV_CONF}")
    return tuple(_host_port(i, where, 53) for i in items)


def _networks(raw: str, where: str) -> tuple[IPNetwork, ...]:
    try:
        return tuple(ipaddress.ip_network(p.strip()) for p in raw.split(",") if p.strip())
    except ValueError as err:
        raise SettingsError(f"{where}: {err}") from None


def _positive(raw: str, where: str, integer: bool = False) -> float:
    try:
        value = int(raw) if integer else float(raw)
    except ValueError:
        raise SettingsError(f"{where}: expected a number, got {raw!r}") from None
    if value <= 0:
        raise SettingsError(f"{where}: must be greater than 0, got {raw!r}")
    return value


def _choice(raw: str, where: str, choices: tuple[str, ...]) -> str:
    if raw.lower() not in choices:
        raise SettingsError(f"{where}: must be one of {', '.join(choices)}; got {raw!r}")
    return raw.lower()


def load_settings(argv: list[str], environ: Mapping[str, str]) -> EdgeDNSSettings:
    args = vars(build_arg_parser().parse_args(argv))
    raw: dict[str, tuple[str, str]] = {}
    for flag, _, default in _FLAGS:
        if flag in args:
            raw[flag] = (str(args[flag]), flag)
        elif _env(flag) in environ:
            raw[flag] = (environ[_env(flag)], _env(flag))
        elif default is None:
            raise SettingsError(f"{flag} (or {_env(flag)}) is required")
        else:
            raw[flag] = (default, f"default of {flag}")

    def value(flag: str) -> str:
        return raw[flag][0]

    def where(flag: str) -> str:
        return raw[flag][1]

    domain = value("--cluster-domain").strip().strip(".")
    if not domain:
        raise SettingsError(f"{where('--cluster-domain')}: must not be empty")
    return EdgeDNSSettings(
        kubeconfig=value("--kubeconfig").strip() or None,
        listeners=parse_listeners(value("--listen"), where("--listen")),
        upstreams=_upstreams(value("--upstream"), where("--upstream")),
        cluster_domain=domain,
        trusted_sources=_networks(value("--trusted-sources"), where("--trusted-sources")),
        ttl=int(_positive(value("--ttl"), where("--ttl"), integer=True)),
        upstream_timeout_s=_positive(value("--upstream-timeout"), where("--upstream-timeout")),
        request_timeout_s=_positive(value("--request-timeout"), where("--request-timeout")),
        log_format=_choice(value("--log-format"), where("--log-format"), ("json", "console")),
        log_level=_choice(value("--log-level"), where("--log-level"),
                          ("debug", "info", "warning", "error")),
    )
