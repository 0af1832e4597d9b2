"""Thin wrapper over the kubectl command for seeding the sandbox clusters."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from .processes import SandboxError


def kubectl(kubeconfig: Path, *args: str, stdin: str | None = None, timeout: float = 60) -> str:
    cmd = ["kubectl", f"--kubeconfig={kubeconfig}", *args]
    try:
        done = subprocess.run(
            cmd, input=stdin, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        raise SandboxError(f"kubectl {' '.join(args)} timed out after {timeout:.0f}s") from None
    if done.returncode != 0:
        raise SandboxError(f"kubectl {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


def apply_with_retry(kubeconfig: Path, manifest: str, what: str, timeout: float = 60) -> None:
    """kubectl apply, retried while the cluster is still settling (e.g. no default SA yet)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            kubectl(kubeconfig, "apply", "-f", "-", stdin=manifest)
            return
        except SandboxError as err:
            if time.monotonic() > deadline:
                raise SandboxError(f"applying {what}: {err}") from None
            time.sleep(1)
