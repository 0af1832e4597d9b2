"""Settings of the syncer: one typed, frozen value built at start-up.

This module owns every knob an operator can turn and how it is read. Each
setting has one entry in ``_SPECS`` giving its file key (``group.field``, the
same names as the dataclasses of ``setting_groups.py``, re-exported here), its
flag, and its environment variable (``FUSIONVC_`` + the flag name in upper case
with ``_`` for ``-``). Sources are merged with the precedence flags >
environment > YAML file (``--config`` or ``FUSIONVC_CONFIG``) > defaults.
Durations are seconds, given as a number or with a unit (``500ms``, ``15s``,
``2m``, ``1h``).

Any bad value raises :class:`SettingsError`; its message names the setting as
the user wrote it (``--workers``, ``FUSIONVC_WORKERS`` or ``sync.workers in
FILE``) and says what is wrong.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any, NoReturn

import yaml

from syncer.kube.transport import API_TRANSPORTS
from syncer.ops.event_loop import EVENT_LOOPS
from syncer.ops.setting_groups import (
    DatasetSettings,
    HttpSettings,
    KubeletSettings,
    LeaderSettings,
    LogSettings,
    ManagementSettings,
    MetricsApiSettings,
    ProcessSettings,
    Settings,
    ShutdownSettings,
    SyncSettings,
    default_identity,
)
from syncer.ops.setting_values import ENV_PREFIX, Spec, bad, check_within, convert
from syncer.ops.setting_values import SettingsError as SettingsError  # re-exported

__all__ = [  # the groups are defined in setting_groups.py; importers keep this path
    "DatasetSettings", "HttpSettings", "KubeletSettings", "LeaderSettings", "LogSettings",
    "ManagementSettings", "MetricsApiSettings", "ProcessSettings", "Settings", "SettingsError",
    "ShutdownSettings", "SyncSettings", "build_arg_parser", "default_identity", "load_settings",
]

CONFIG_ENV = ENV_PREFIX + "CONFIG"
LOG_FORMATS = ("json", "console")
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
NODE_HEARTBEAT_MIN_S, NODE_HEARTBEAT_MAX_S = 1.0, 600.0


_GROUPS: dict[str, tuple[type[Any], str]] = {
    "management": (ManagementSettings, "management cluster"),
    "sync": (SyncSettings, "synchronisation"),
    "leader": (LeaderSettings, "leader election"),
    "http": (HttpSettings, "HTTP server (/metrics, /healthz, /readyz)"),
    "kubelet": (KubeletSettings, "kubelet endpoint of virtual nodes (logs, exec, ...)"),
    "logging": (LogSettings, "logging"),
    "shutdown": (ShutdownSettings, "shutdown"),
    "process": (ProcessSettings, "the process"),
    "metrics_api": (MetricsApiSettings, "metrics.k8s.io for tenants (kubectl top, HPA)"),
    "datasets": (DatasetSettings, "download and cleanup Jobs of EdgeDatasets on edge nodes"),
}


_SPECS: tuple[Spec, ...] = (
    Spec("management.kubeconfig", "--kubeconfig", "optstr",
          "kubeconfig of the management cluster; unset: in-cluster service account"),
    Spec("management.namespace", "--namespace", "str",
          "namespace of the syncer: kubeconfig Secrets and the leader Lease live here"),
    Spec("sync.workers", "--workers", "int", "reconcile workers", minimum=1),
    Spec("sync.queue_max", "--queue-max", "int",
          "most keys waiting in the work queue", minimum=1),
    Spec("sync.write_qps", "--write-qps", "float",
          "API writes to tenant and edge clusters per second, all clusters together "
          "(client-side cap, as client-go's QPS; reads come from caches); 0: no cap",
          zero_is_off=True),
    Spec("sync.write_burst", "--write-burst", "int",
          "burst of writes above --write-qps", minimum=1),
    Spec("sync.queue_qps", "--queue-qps", "float",
          "work items handed to workers per second, writing or not (overall cap); "
          "0: no cap (--write-qps caps the load on API servers)", zero_is_off=True),
    Spec("sync.queue_burst", "--queue-burst", "int",
          "burst of work items above --queue-qps", minimum=1),
    Spec("sync.request_timeout_s", "--request-timeout", "duration",
          "limit for one API request (watches excepted)"),
    Spec("sync.drift_scan_interval_s", "--drift-scan-interval", "duration",
          "period of the scan comparing tenant and edge objects"),
    Spec("sync.extra_kinds", "--extra-kinds", "refs",
          "syncers of more kinds, as comma-separated module:Class (ResourceSyncer subclasses)"),
    Spec("sync.node_heartbeat_s", "--node-heartbeat", "duration",
          "period of virtual node Lease renewals (leaseDurationSeconds: 4x, at least 40 s); "
          "tenant controller-managers need --node-monitor-grace-period above it "
          f"(recommended: 5x, at least 50 s); {NODE_HEARTBEAT_MIN_S:g}s to "
          f"{NODE_HEARTBEAT_MAX_S:g}s"),
    Spec("leader.enabled", "--leader-elect", "bool",
          "elect a leader among replicas with a Lease; only the leader writes"),
    Spec("leader.lease_name", "--leader-lease-name", "str", "name of the Lease"),
    Spec("leader.lease_namespace", "--leader-lease-namespace", "optstr",
          "namespace of the Lease; unset: --namespace"),
    Spec("leader.lease_duration_s", "--leader-lease-duration", "int",
          "whole seconds a standby waits after the last renewal before taking over",
          minimum=1),
    Spec("leader.renew_deadline_s", "--leader-renew-deadline", "duration",
          "a leader that could not renew for this long stops leading"),
    Spec("leader.retry_period_s", "--leader-retry-period", "duration",
          "period between acquire or renew attempts"),
    Spec("leader.identity", "--leader-identity", "optstr",
          "holder identity written in the Lease; unset: <hostname>_<pid>"),
    Spec("http.host", "--http-host", "str", "listen address of the HTTP server"),
    Spec("http.port", "--http-port", "int", "listen port of the HTTP server", minimum=0),
    Spec("kubelet.host", "--kubelet-host", "str", "listen address of the kubelet endpoint"),
    Spec("kubelet.port", "--kubelet-port", "int", "listen port of the kubelet endpoint",
          minimum=0),
    Spec("kubelet.advertise_address", "--kubelet-advertise-address", "optstr",
          "IP written as InternalIP of virtual nodes (a Service IP reaching every replica); "
          "unset: --kubelet-host"),
    Spec("kubelet.advertise_port", "--kubelet-advertise-port", "int",
          "port written as the virtual nodes' kubelet port; 0: --kubelet-port", minimum=0),
    Spec("kubelet.cert_file", "--kubelet-cert-file", "optstr",
          "serving certificate (PEM) of the kubelet endpoint; unset: the endpoint is off"),
    Spec("kubelet.key_file", "--kubelet-key-file", "optstr", "its private key (PEM)"),
    Spec("kubelet.client_ca_file", "--kubelet-client-ca-file", "optstr",
          "CA of the tenant kube-apiservers' kubelet client certificates "
          "(subject CN fusionvc:tenant:<Tenant name>)"),
    Spec("logging.format", "--log-format", "choice",
          "json (production) or console (development)", choices=LOG_FORMATS),
    Spec("logging.level", "--log-level", "choice", "lowest level logged", choices=LOG_LEVELS),
    Spec("process.event_loop", "--event-loop", "choice",
          "auto (uvloop where installed), uvloop or asyncio", choices=EVENT_LOOPS),
    Spec("process.api_transport", "--api-transport", "choice",
          "HTTP client of API calls and watches: lean (fusionvc's HTTP/1.1 pool) or aiohttp "
          "(always used through a proxy)", choices=API_TRANSPORTS),
    Spec("shutdown.grace_s", "--shutdown-grace", "duration",
          "time given to in-flight work on SIGTERM before it is cancelled"),
    Spec("metrics_api.port", "--metrics-api-port", "int",
          "TLS port of the tenants' metrics.k8s.io; 0: off", minimum=0),
    Spec("metrics_api.host", "--metrics-api-host", "str", "listen address of the metrics API"),
    Spec("metrics_api.cert_file", "--metrics-api-cert-file", "optstr", "its serving cert"),
    Spec("metrics_api.key_file", "--metrics-api-key-file", "optstr", "its serving key"),
    Spec("metrics_api.ca_file", "--metrics-api-ca-file", "optstr",
          "CA of the serving cert, for the APIServices; unset: insecureSkipTLSVerify"),
    Spec("metrics_api.advertise_host", "--metrics-api-advertise-host", "optstr",
          "host tenant apiservers dial (ExternalName); unset: no APIService is written"),
    Spec("metrics_api.poll_interval_s", "--metrics-api-poll-interval", "duration",
          "period of reading the edge clusters' metrics.k8s.io"),
    Spec("metrics_api.pod_metrics_interval_s", "--pod-metrics-interval", "duration",
          "period of scraping the pods' own metrics on edge nodes (custom metrics, delivery)"),
    Spec("datasets.image", "--dataset-image", "str",
          "image of the edge download and cleanup Jobs (runs python -m syncer.datasetfetch)"),
    Spec("datasets.cpu_request", "--dataset-job-cpu-request", "quantity",
          "CPU request of a download or cleanup Job's container"),
    Spec("datasets.memory_request", "--dataset-job-memory-request", "quantity",
          "memory request of that container"),
    Spec("datasets.cpu_limit", "--dataset-job-cpu-limit", "quantity", "its CPU limit"),
    Spec("datasets.memory_limit", "--dataset-job-memory-limit", "quantity", "its memory limit"),
)
_BY_KEY = {spec.key: spec for spec in _SPECS}


class _Parser(argparse.ArgumentParser):
    """ArgumentParser that raises SettingsError instead of exiting on bad input."""

    def error(self, message: str) -> NoReturn:
        raise SettingsError(message)


def _default_of(key: str) -> Any:
    group, name = key.split(".")
    return getattr(getattr(Settings(), group), name)


_METAVARS = {"str": "TEXT", "optstr": "TEXT", "int": "N", "float": "NUMBER", "duration": "DURATION",
             "refs": "MODULE:CLASS,...", "quantity": "QUANTITY"}


def build_arg_parser() -> argparse.ArgumentParser:
    """The command line of ``fusionvc-syncer``; every flag defaults to "not given"."""
    parser = _Parser(
        prog="fusionvc-syncer",
        description="fusionvc syncer: tenant virtual clusters on edge clusters. "
        "Precedence: flags > FUSIONVC_* environment > --config file > defaults.",
    )
    parser.add_argument(
        "--config", metavar="FILE", default=argparse.SUPPRESS,
        help=f"YAML settings file, keys as in 'group: {{field: value}}' (env {CONFIG_ENV})",
    )
    groups = {name: parser.add_argument_group(title) for name, (_, title) in _GROUPS.items()}
    for spec in _SPECS:
        default = "unset" if spec.kind == "optstr" else _default_of(spec.key)
        unit = " (seconds or 500ms/15s/2m/1h)" if spec.kind == "duration" else ""
        text = f"{spec.help}{unit}; env {spec.env}; file {spec.key}; default {default}"
        group = groups[spec.key.split(".")[0]]
        if spec.kind == "bool":
            group.add_argument(spec.flag, dest=spec.key, action=argparse.BooleanOptionalAction,
                               default=argparse.SUPPRESS, help=text)
        else:
            metavar = "|".join(spec.choices) or _METAVARS[spec.kind]
            group.add_argument(spec.flag, dest=spec.key, metavar=metavar,
                               default=argparse.SUPPRESS, help=text)
    return parser


def _read_file(path: str, where: str) -> dict[str, tuple[object, str]]:
    """Flatten a YAML settings file into ``{key: (raw value, where)}``."""
    try:
        with open(path, encoding="utf-8") as handle:
            document = yaml.safe_load(handle)
    except FileNotFoundError:
        raise bad(where, f"file {path!r} does not exist") from None
    except OSError as err:
        raise bad(where, f"cannot read {path!r}: {err.strerror}") from None
    except yaml.YAMLError as err:
        raise bad(where, f"{path!r} is not valid YAML: {err}") from None
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise bad(path, "the top level must be a mapping of groups")
    found: dict[str, tuple[object, str]] = {}
    for group, fields in document.items():
        if group not in _GROUPS:
            raise bad(f"{group} in {path}", f"unknown key; groups are {', '.join(_GROUPS)}")
        if not isinstance(fields, dict):
            raise bad(f"{group} in {path}", "expected a mapping of settings")
        for name, raw in fields.items():
            key = f"{group}.{name}"
            if key not in _BY_KEY:
                known = ", ".join(k.split(".")[1] for k in _BY_KEY if k.startswith(group + "."))
                raise bad(f"{key} in {path}", f"unknown key; {group} has {known}")
            found[key] = (raw, f"{key} in {path}")
    return found


def _gather(argv: list[str], environ: Mapping[str, str]) -> dict[str, tuple[object, str]]:
    """Raw values with where each came from; later sources override earlier ones."""
    args = vars(build_arg_parser().parse_args(argv))
    raw: dict[str, tuple[object, str]] = {}
    if "config" in args:
        raw.update(_read_file(str(args["config"]), "--config"))
    elif environ.get(CONFIG_ENV, "").strip():
        raw.update(_read_file(environ[CONFIG_ENV].strip(), CONFIG_ENV))
    for spec in _SPECS:
        if spec.env in environ:
            raw[spec.key] = (environ[spec.env], spec.env)
    for spec in _SPECS:
        if spec.key in args:
            raw[spec.key] = (args[spec.key], spec.flag)
    return raw


def _check_leader(values: Mapping[str, Any], where: Mapping[str, str]) -> None:
    duration = values["leader.lease_duration_s"]
    deadline = values["leader.renew_deadline_s"]
    retry = values["leader.retry_period_s"]
    if deadline >= duration:
        raise bad(where["leader.renew_deadline_s"],
                   f"renew deadline ({deadline:g}s) must be shorter than the lease duration "
                   f"({duration:g}s, from {where['leader.lease_duration_s']})")
    if retry >= deadline:
        raise bad(where["leader.retry_period_s"],
                   f"retry period ({retry:g}s) must be shorter than the renew deadline "
                   f"({deadline:g}s, from {where['leader.renew_deadline_s']})")


def _check_kubelet(values: dict[str, Any], where: Mapping[str, str]) -> None:
    """The endpoint needs its three files together, and an address virtual nodes can use."""
    files = ("kubelet.cert_file", "kubelet.key_file", "kubelet.client_ca_file")
    given = [k for k in files if values[k] is not None]
    if given and len(given) != len(files):
        missing = next(k for k in files if values[k] is None)
        raise bad(where[given[0]], f"needs {_BY_KEY[missing].flag} too")
    if given and values["kubelet.advertise_address"] is None:
        if values["kubelet.host"] in ("0.0.0.0", "::"):
            raise bad(where["kubelet.host"], "listens on every address: set "
                       "--kubelet-advertise-address to the IP virtual nodes advertise")
        values["kubelet.advertise_address"] = values["kubelet.host"]


def _check_node_heartbeat(value: float, where: str) -> None:
    """A Lease renewed more often than each second is load for nothing; one renewed less
    often than every 10 minutes leaves a lost syncer unnoticed for most of an hour."""
    if not NODE_HEARTBEAT_MIN_S <= value <= NODE_HEARTBEAT_MAX_S:
        raise bad(where, f"must be between {NODE_HEARTBEAT_MIN_S:g}s and "
                         f"{NODE_HEARTBEAT_MAX_S:g}s, got {value:g}s")


def load_settings(argv: list[str], environ: Mapping[str, str]) -> Settings:
    """Settings from flags (``argv`` without the program name), environment and file."""
    values: dict[str, Any] = {}
    where: dict[str, str] = {}
    for key, (raw, source) in _gather(argv, environ).items():
        values[key] = convert(_BY_KEY[key], raw, source)
        where[key] = source
    for spec in _SPECS:
        values.setdefault(spec.key, None if spec.kind == "optstr" else _default_of(spec.key))
        where.setdefault(spec.key, f"default of {spec.key}")
    if values["leader.lease_namespace"] is None:
        values["leader.lease_namespace"] = values["management.namespace"]
    if values["leader.identity"] is None:
        values["leader.identity"] = default_identity()
    _check_leader(values, where)
    _check_kubelet(values, where)
    _check_node_heartbeat(values["sync.node_heartbeat_s"], where["sync.node_heartbeat_s"])
    for resource in ("cpu", "memory"):
        check_within(values, where, f"datasets.{resource}_request", f"datasets.{resource}_limit")
    if values["metrics_api.port"] and not (values["metrics_api.cert_file"]
                                           and values["metrics_api.key_file"]):
        raise bad(where["metrics_api.port"], "needs --metrics-api-cert-file and -key-file")
    groups: dict[str, Any] = {}
    for name, (cls, _) in _GROUPS.items():
        fields = {key.split(".")[1]: v for key, v in values.items() if key.startswith(name + ".")}
        groups[name] = cls(**fields)
    return Settings(**groups)
