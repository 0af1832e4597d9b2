"""The sandbox's wiring of fusionvc's kubelet endpoint (syncer/kubelet) and kwok's debugging.

- One CA, ``pki/fusionvc-kubelet``, that fusionvc trusts for kubelet clients: it
  issues each tenant kube-apiserver's ``--kubelet-client-certificate`` (subject
  CN ``fusionvc:tenant:<tenant>``) and the endpoint's serving certificate
  (127.0.0.1), which the tenant apiservers verify with
  ``--kubelet-certificate-authority``.
- Every kube-apiserver prefers a node's InternalIP (virtual nodes advertise
  127.0.0.1, kwok's nodes too); nothing resolves node names here.
- kwok on the edges serves its kubelet port (``--node-port``) and answers
  ``pods/log``/``attach`` from ``kwok-debug/containers.log`` (CRI log lines,
  appended by tests), ``pods/exec`` by running the command in
  ``kwok-debug/exec-root`` as ``nobody`` (when the sandbox runs as root), and
  ``pods/portforward`` by piping every port through ``cat`` (an echo).
- kwok follows a log file (``logs -f``, attach) with one inotify instance per
  stream, and every kube-apiserver holds a few: the default limit of 128 per
  user is gone with a few sandboxes on one machine ("failed to create fsnotify
  watcher: too many open files"). ``up`` raises it to ``INOTIFY_INSTANCES``
  when it runs as root (never lowers it) and says so.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .pki import ClusterPKI

CN_PREFIX = "fusionvc:tenant:"
NOBODY = 65534
KWOK_API = "kwok.x-k8s.io/v1alpha1"
INOTIFY_INSTANCES = 1024
INOTIFY_LIMIT = Path("/proc/sys/fs/inotify/max_user_instances")


@dataclass(frozen=True)
class KubeletFiles:
    ca: Path
    serving_cert: Path
    serving_key: Path
    debug_dir: Path

    @property
    def logs_file(self) -> Path:
        return self.debug_dir / "containers.log"

    @property
    def exec_root(self) -> Path:
        return self.debug_dir / "exec-root"

    @property
    def kwok_config(self) -> Path:
        return self.debug_dir / "kwok-debugging.yaml"

    def as_state(self) -> dict[str, str]:
        return {"clientCA": str(self.ca), "servingCert": str(self.serving_cert),
                "servingKey": str(self.serving_key), "logsFile": str(self.logs_file),
                "execRoot": str(self.exec_root)}


def kubelet_pki(state_dir: Path) -> ClusterPKI:
    pki = ClusterPKI(state_dir / "pki" / "fusionvc-kubelet")
    pki.ensure_ca("fusionvc-kubelet")
    return pki


def ensure_inotify_instances(log: Any = print) -> None:
    """Raises the per-user inotify instance limit to INOTIFY_INSTANCES when allowed."""
    try:
        current = int(INOTIFY_LIMIT.read_text())
    except (OSError, ValueError):
        return
    if current >= INOTIFY_INSTANCES:
        return
    try:
        INOTIFY_LIMIT.write_text(str(INOTIFY_INSTANCES))
        log(f"sandbox: raised fs.inotify.max_user_instances {current} -> {INOTIFY_INSTANCES}")
    except OSError:
        log(
            f"sandbox: warning: fs.inotify.max_user_instances is {current}; kubectl logs -f "
            f"and attach may fail. Raise it: sysctl fs.inotify.max_user_instances="
            f"{INOTIFY_INSTANCES}"
        )


def prepare(state_dir: Path) -> KubeletFiles:
    """CA, serving certificate, kwok's debugging config and its files (idempotent)."""
    pki = kubelet_pki(state_dir)
    serving = pki.issue("endpoint", "fusionvc-kubelet-endpoint", server=True)
    files = KubeletFiles(pki.ca.cert, serving.cert, serving.key, state_dir / "kwok-debug")
    files.exec_root.mkdir(parents=True, exist_ok=True)
    files.logs_file.touch()
    if os.geteuid() == 0:
        os.chown(files.exec_root, NOBODY, NOBODY)
    files.kwok_config.write_text(yaml.safe_dump_all(kwok_debugging(files), sort_keys=False))
    return files


def kwok_debugging(files: KubeletFiles) -> list[dict[str, Any]]:
    """ClusterLogs, ClusterAttach, ClusterExec and ClusterPortForward for every pod."""
    local: dict[str, Any] = {"workDir": str(files.exec_root),
                             "envs": [{"name": "HOME", "value": str(files.exec_root)}]}
    if os.geteuid() == 0:
        local["securityContext"] = {"runAsUser": NOBODY, "runAsGroup": NOBODY}

    def doc(kind: str, spec: dict[str, Any]) -> dict[str, Any]:
        return {"apiVersion": KWOK_API, "kind": kind,
                "metadata": {"name": "fusionvc-sandbox"}, "spec": {"selector": {}, **spec}}

    return [
        doc("ClusterLogs", {"logs": [{"logsFile": str(files.logs_file), "follow": True}]}),
        doc("ClusterAttach", {"attaches": [{"logsFile": str(files.logs_file)}]}),
        doc("ClusterExec", {"execs": [{"local": local}]}),
        doc("ClusterPortForward", {"forwards": [{"command": ["cat"]}]}),
    ]


def tenant_apiserver_args(state_dir: Path, tenant: str) -> list[str]:
    """The tenant kube-apiserver's kubelet client: its certificate names the tenant."""
    pki = kubelet_pki(state_dir)
    client = pki.issue(f"client-{tenant}", CN_PREFIX + tenant)
    return [f"--kubelet-client-certificate={client.cert}",
            f"--kubelet-client-key={client.key}",
            f"--kubelet-certificate-authority={pki.ca.cert}"]


def apiserver_args() -> list[str]:
    """Every kube-apiserver reaches nodes at their InternalIP (127.0.0.1 here)."""
    return ["--kubelet-preferred-address-types=InternalIP,Hostname"]


def kwok_args(files: KubeletFiles, server_port: int) -> list[str]:
    return [f"--node-port={server_port}", f"--config={files.kwok_config}"]


def syncer_args(state: dict[str, Any], port: int) -> list[str]:
    """The syncer's kubelet endpoint flags, from state.json; none for an older sandbox."""
    kubelet = state.get("kubelet")
    if not kubelet:
        return []
    return ["--kubelet-host=127.0.0.1", f"--kubelet-port={port}",
            f"--kubelet-cert-file={kubelet['servingCert']}",
            f"--kubelet-key-file={kubelet['servingKey']}",
            f"--kubelet-client-ca-file={kubelet['clientCA']}"]
