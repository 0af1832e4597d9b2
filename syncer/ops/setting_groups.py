"""The typed groups of the syncer's settings: one frozen dataclass per group, and
``Settings``, which holds them all. How each field is read (flag, environment, file) and
checked lives in ``settings.py``; these are only the shapes and their defaults."""

from __future__ import annotations

import dataclasses
import os
import socket
from dataclasses import dataclass


@dataclass(frozen=True)
class ManagementSettings:
    kubeconfig: str | None = None  # None: in-cluster service account
    namespace: str = "fusionvc-system"


@dataclass(frozen=True)
class SyncSettings:
    # The API servers, not the workers, bound throughput: 16 sync as fast as 32 or 96 on the
    # sandbox, and each worker's request in flight holds a TLS connection (256 KiB buffer).
    workers: int = 16
    # A queued key costs about 400 bytes (a pod cached costs 10 KiB): room for the keys of a
    # restart holding 100,000 pods, their nodes and dependents, in 80 MiB at most.
    queue_max: int = 200_000
    # API writes of the tenant and edge clients, per second (kube/limiter.py); 0: no cap.
    write_qps: float = 1000.0
    write_burst: int = 2000
    # Keys handed to workers per second; 0 (the default): no cap per key, writes are capped.
    queue_qps: float = 0.0
    queue_burst: int = 2000
    request_timeout_s: float = 30.0
    drift_scan_interval_s: float = 60.0
    extra_kinds: tuple[str, ...] = ()  # "module:Class" of syncers beyond the built-in kinds
    # Renewal period of virtual nodes' Leases (syncer/kinds/node_heartbeat.py): the kubelet's
    # 10 s; 60 s for large fleets, with the tenants' --node-monitor-grace-period raised.
    node_heartbeat_s: float = 10.0


def default_identity() -> str:
    """Leader identity when none is set: ``<hostname>_<pid>`` (pod name in Kubernetes)."""
    return f"{socket.gethostname()}_{os.getpid()}"


@dataclass(frozen=True)
class LeaderSettings:
    enabled: bool = True
    lease_name: str = "fusionvc-syncer"
    lease_namespace: str = "fusionvc-system"  # load_settings: the management namespace
    lease_duration_s: int = 15
    renew_deadline_s: float = 10.0
    retry_period_s: float = 2.0
    identity: str = dataclasses.field(default_factory=default_identity)


@dataclass(frozen=True)
class HttpSettings:
    host: str = "0.0.0.0"
    port: int = 8080


@dataclass(frozen=True)
class KubeletSettings:
    """The kubelet endpoint of virtual nodes (syncer/kubelet); off until a cert is given."""

    host: str = "0.0.0.0"
    port: int = 10250
    advertise_address: str | None = None  # None: the host, unless it is a wildcard
    advertise_port: int = 0  # 0: the port
    cert_file: str | None = None
    key_file: str | None = None
    client_ca_file: str | None = None

    @property
    def enabled(self) -> bool:
        return self.cert_file is not None


@dataclass(frozen=True)
class LogSettings:
    format: str = "json"
    level: str = "info"


@dataclass(frozen=True)
class ProcessSettings:
    event_loop: str = "auto"  # syncer/ops/event_loop.py: uvloop where installed
    api_transport: str = "lean"  # syncer/kube/transport.py: the lean HTTP/1.1 pool or aiohttp


@dataclass(frozen=True)
class ShutdownSettings:
    grace_s: float = 20.0


@dataclass(frozen=True)
class MetricsApiSettings:  # syncer/metricsapi: metrics.k8s.io for tenants; port 0 = off
    port: int = 0
    host: str = "0.0.0.0"
    cert_file: str | None = None
    key_file: str | None = None
    ca_file: str | None = None
    advertise_host: str | None = None
    poll_interval_s: float = 10.0
    pod_metrics_interval_s: float = 10.0  # syncer/podmetrics: scraping pods' own metrics


@dataclass(frozen=True)
class DatasetSettings:  # the edge Jobs of EdgeDatasets (syncer/kinds/edgedatasets.py)
    image: str = "ghcr.io/fusionvc/fusionvc:0.1.0"  # holds python -m syncer.datasetfetch
    cpu_request: str = "50m"
    memory_request: str = "64Mi"
    cpu_limit: str = "1"
    memory_limit: str = "256Mi"


@dataclass(frozen=True)
class Settings:
    management: ManagementSettings = dataclasses.field(default_factory=ManagementSettings)
    sync: SyncSettings = dataclasses.field(default_factory=SyncSettings)
    leader: LeaderSettings = dataclasses.field(default_factory=LeaderSettings)
    http: HttpSettings = dataclasses.field(default_factory=HttpSettings)
    kubelet: KubeletSettings = dataclasses.field(default_factory=KubeletSettings)
    logging: LogSettings = dataclasses.field(default_factory=LogSettings)
    shutdown: ShutdownSettings = dataclasses.field(default_factory=ShutdownSettings)
    process: ProcessSettings = dataclasses.field(default_factory=ProcessSettings)
    metrics_api: MetricsApiSettings = dataclasses.field(default_factory=MetricsApiSettings)
    datasets: DatasetSettings = dataclasses.field(default_factory=DatasetSettings)
