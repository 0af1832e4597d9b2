"""kubectl logs/exec/cp/attach/port-forward in a tenant, through fusionvc's kubelet endpoint.

The tenant types plain kubectl against its own kube-apiserver; the apiserver
calls the virtual node's kubelet (the syncer's endpoint), which relays to the
edge API server, whose kwok answers from the sandbox's files (see
hack/sandbox_lib/kubelet.py). Error cases call the endpoint directly with the
tenant apiservers' own kubelet client certificates.
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import os
import select
import socket
import ssl
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sandbox_lib.pki import ClusterPKI

from .kube_helpers import HARDENED_CONTAINER, apply, edge_ns, get_json, namespace, unique
from .sandbox_fixture import Cluster, SandboxHandle
from .syncer_fixture import SyncerProcess, free_port, wait_for

POD = "web"


class Setup:
    def __init__(self, sandbox: SandboxHandle, ns: str) -> None:
        self.sandbox, self.ns = sandbox, ns
        self.tenant: Cluster = sandbox["tenant-a"]
        state = json.loads((sandbox.dir / "state.json").read_text())
        self.files: dict[str, str] = state["kubelet"]
        self.pki_dir = Path(self.files["clientCA"]).parent

    def kubectl(self, *args: str, stdin: str | None = None, check: bool = True,
                timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return self.tenant.kubectl("-n", self.ns, *args, stdin=stdin, check=check,
                                   timeout=timeout)

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(["kubectl", f"--kubeconfig={self.tenant.kubeconfig}", "-n",
                                 self.ns, *args], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, stdin=subprocess.PIPE, text=True)

    def pod(self) -> dict[str, Any]:
        return get_json(self.tenant, "pod", POD, "-n", self.ns)

    def edge(self) -> Cluster:
        node = get_json(self.tenant, "node", self.pod()["spec"]["nodeName"])
        return self.sandbox[node["metadata"]["annotations"]["fusionvc.io/edge-cluster"]]

    def endpoint_port(self) -> int:
        node = get_json(self.tenant, "node", self.pod()["spec"]["nodeName"])
        return int(node["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"])

    def log_line(self, text: str, at: dt.datetime | None = None) -> None:
        """One CRI log line in the file kwok serves logs and attach from."""
        stamp = (at or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%dT%H:%M:%S.%f000Z")
        with open(self.files["logsFile"], "a", encoding="utf-8") as out:
            out.write(f"{stamp} stdout F {text}\n")

    def call(self, path: str, cert: tuple[str, str] | None = None,
             method: str = "GET") -> tuple[int, str]:
        """A request to the kubelet endpoint as tenant-a's apiserver (or ``cert``)."""
        context = ssl.create_default_context(cafile=self.files["clientCA"])
        crt, key = cert or self.client_cert("tenant-a")
        context.load_cert_chain(crt, key)
        conn = http.client.HTTPSConnection("127.0.0.1", self.endpoint_port(), context=context,
                                           timeout=30)
        try:
            conn.request(method, path)
            resp = conn.getresponse()
            return resp.status, resp.read().decode(errors="replace")
        finally:
            conn.close()

    def client_cert(self, tenant: str) -> tuple[str, str]:
        return (str(self.pki_dir / f"client-{tenant}.crt"),
                str(self.pki_dir / f"client-{tenant}.key"))

    def issue(self, stem: str, common_name: str) -> tuple[str, str]:
        pair = ClusterPKI(self.pki_dir).issue(stem, common_name)
        return str(pair.cert), str(pair.key)


@pytest.fixture(scope="module")
def setup(sandbox: SandboxHandle, syncer: SyncerProcess) -> Iterator[Setup]:
    ns = unique("kubelet")
    s = Setup(sandbox, ns)
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": POD, "namespace": ns},
           "spec": {"containers": [{"name": "main", "image": "busybox", **HARDENED_CONTAINER}]}}
    apply(s.tenant, namespace(ns), pod)
    wait_for(lambda: s.pod().get("status", {}).get("phase") == "Running", 120, "pod running")
    wait_for(lambda: s.endpoint_port() > 0, 60, "virtual node advertising its kubelet port")
    yield s
    s.tenant.kubectl("delete", "namespace", ns, "--wait=false", check=False)


def read_until(proc: subprocess.Popen[str], text: str, timeout: float) -> str:
    """A running kubectl's stdout up to the output containing ``text`` (or the timeout)."""
    assert proc.stdout is not None
    fd, seen, deadline = proc.stdout.fileno(), b"", time.monotonic() + timeout
    while time.monotonic() < deadline and text.encode() not in seen:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            seen += chunk
    return seen.decode(errors="replace")


def test_logs_with_tail_since_timestamps_and_limit(setup: Setup) -> None:
    tag = uuid.uuid4().hex[:8]
    setup.log_line(f"old-{tag}", at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=3))
    for i in range(3):
        setup.log_line(f"line-{i}-{tag}")
    out = setup.kubectl("logs", POD).stdout
    assert all(f"line-{i}-{tag}" in out for i in range(3)) and f"old-{tag}" in out
    assert setup.kubectl("logs", POD, "-c", "main", "--tail=1").stdout == f"line-2-{tag}\n"
    recent = setup.kubectl("logs", POD, "--since=1h").stdout
    assert f"line-0-{tag}" in recent and f"old-{tag}" not in recent
    since = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert f"old-{tag}" not in setup.kubectl("logs", POD, f"--since-time={since}").stdout
    stamped = setup.kubectl("logs", POD, "--tail=1", "--timestamps").stdout
    assert stamped.endswith(f" line-2-{tag}\n") and stamped[:4].isdigit()
    assert setup.kubectl("logs", POD, "--limit-bytes=4").stdout == out[:4]
    previous = setup.kubectl("logs", POD, "--previous", check=False)
    assert previous.returncode != 0  # kwok keeps no previous log for it: the edge says so


def _edge_connections(syncer: SyncerProcess, edge: Cluster) -> int:
    """Established TCP connections of the syncer process to the edge API server."""
    assert syncer.proc is not None
    port = int(edge.url.rsplit(":", 1)[1])
    inodes = set()
    for fd in Path(f"/proc/{syncer.proc.pid}/fd").iterdir():
        with _ignore_gone():
            target = os.readlink(fd)
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    count = 0
    for line in Path(f"/proc/{syncer.proc.pid}/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        remote_port, state, inode = int(fields[2].split(":")[1], 16), fields[3], fields[9]
        count += remote_port == port and state == "01" and inode in inodes
    return count


class _ignore_gone:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> bool:
        return exc[0] is not None and issubclass(exc[0], FileNotFoundError)  # type: ignore[arg-type]


def test_logs_follow_sees_new_lines_and_cancel_closes_the_edge_stream(
        setup: Setup, syncer: SyncerProcess) -> None:
    edge = setup.edge()
    tag = uuid.uuid4().hex[:8]
    proc = setup.popen("logs", "-f", "--tail=0", POD)
    try:
        time.sleep(3)
        during = _edge_connections(syncer, edge)
        setup.log_line(f"followed-{tag}")
        assert f"followed-{tag}" in read_until(proc, f"followed-{tag}", 30)
    finally:
        proc.kill()
        proc.communicate(timeout=10)
    wait_for(lambda: _edge_connections(syncer, edge) <= during - 1, 10,
             "the edge stream to close once kubectl went away")


def test_exec_with_stdin_args_and_exit_code(setup: Setup) -> None:
    out = setup.kubectl("exec", "-i", POD, "--", "head", "-c", "11", stdin="hello stdin\n")
    assert out.stdout == "hello stdin"
    out = setup.kubectl("exec", POD, "-c", "main", "--", "sh", "-c", "echo $0 $1; id -u", "a b",
                        "c")
    assert out.stdout.splitlines()[0] == "a b c"
    assert out.stdout.splitlines()[1] != "0", "exec must not run as root"
    failed = setup.kubectl("exec", POD, "--", "sh", "-c", "echo out; exit 3", check=False)
    assert failed.returncode != 0 and "exit status 3" in failed.stderr
    # The same as on the edge apiserver directly (kwok reports a failed command this way).
    ens = edge_ns(setup.sandbox, "tenant-a", setup.ns)
    direct = setup.edge().kubectl("exec", "-n", ens, POD, "--", "sh", "-c", "exit 3",
                                  check=False)
    assert direct.returncode == failed.returncode and "exit status 3" in direct.stderr


def test_exec_with_tty(setup: Setup) -> None:
    out = setup.kubectl("exec", "-i", "-t", POD, "--", "head", "-c", "2", stdin="ok",
                        check=False)
    assert "ok" in out.stdout, out.stderr


def test_cp_out_of_a_pod(setup: Setup, tmp_path: Path) -> None:
    root = Path(setup.files["execRoot"])
    payload = uuid.uuid4().hex * 1000
    (root / "model.txt").write_text(payload)
    (root / "model.txt").chmod(0o644)
    setup.kubectl("cp", f"{POD}:model.txt", str(tmp_path / "copy.txt"))
    assert (tmp_path / "copy.txt").read_text() == payload


def assert_attach_sees_new_output(setup: Setup, container: str) -> None:
    """kubectl attach -c CONTAINER prints a line the container writes after attaching."""
    line = f"attached-{container}-{uuid.uuid4().hex[:8]}"
    proc = setup.popen("attach", POD, "-c", container)
    try:
        time.sleep(3)
        setup.log_line(line)
        assert line in read_until(proc, line, 30)
    finally:
        proc.kill()
        proc.communicate(timeout=10)


def test_attach_streams_what_the_container_writes(setup: Setup) -> None:
    assert_attach_sees_new_output(setup, "main")


def test_port_forward_round_trips_bytes_on_several_ports_and_ends_with_kubectl(
        setup: Setup, syncer: SyncerProcess) -> None:
    edge = setup.edge()
    local = [free_port(), free_port()]
    proc = setup.popen("port-forward", f"pod/{POD}", f"{local[0]}:8080", f"{local[1]}:9090")
    try:
        assert "Forwarding from" in read_until(proc, f"{local[1]} -> 9090", 30)
        for port in local:
            payload = os.urandom(1024 * 1024)  # many relay buffers, flow control on the way
            with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
                conn.sendall(payload)
                got = b""
                while len(got) < len(payload):
                    chunk = conn.recv(65536)
                    assert chunk, "connection closed early"
                    got += chunk
            assert got == payload
        during = _edge_connections(syncer, edge)
    finally:
        proc.kill()
        proc.communicate(timeout=10)
    # the relayed stream to the edge ends once kubectl went away
    wait_for(lambda: _edge_connections(syncer, edge) <= during - 1, 10,
             "the edge stream to close once kubectl port-forward went away")


def test_unknown_pod_container_and_uid_are_404(setup: Setup) -> None:
    ns = setup.ns
    assert setup.call(f"/containerLogs/{ns}/nope/main")[0] == 404
    status, text = setup.call(f"/containerLogs/{ns}/{POD}/nope")
    assert status == 404 and "container" in text
    assert setup.call(f"/exec/{ns}/{POD}/{uuid.uuid4()}/main?command=id&output=1",
                      method="POST")[0] == 404
    assert setup.call("/stats/summary")[0] == 404
    # kubectl gets the tenant apiserver's own answer for a pod that does not exist
    missing = setup.kubectl("logs", "nope", check=False)
    assert missing.returncode != 0 and "NotFound" in missing.stderr


def test_other_tenants_certificate_or_pod_is_403(setup: Setup) -> None:
    ns, uid = setup.ns, setup.pod()["metadata"]["uid"]
    status, text = setup.call(f"/containerLogs/{ns}/{POD}/main", cert=setup.client_cert(
        "tenant-b"))
    assert status == 403 and "tenant-b" in text
    assert setup.call(f"/exec/{ns}/{POD}/{uid}/main?command=id&output=1",
                      cert=setup.client_cert("tenant-b"), method="POST")[0] == 403
    stranger = setup.issue("client-stranger", "fusionvc:tenant:tenant-zz")
    assert setup.call(f"/containerLogs/{ns}/{POD}/main", cert=stranger)[0] == 403
    nameless = setup.issue("client-nameless", "system:kube-apiserver")
    assert setup.call(f"/containerLogs/{ns}/{POD}/main", cert=nameless)[0] == 403
    other = setup.sandbox["tenant-b"].kubectl("logs", "-n", ns, POD, check=False)
    assert other.returncode != 0 and "NotFound" in other.stderr


def test_certificate_of_another_ca_is_refused(setup: Setup) -> None:
    admin = ClusterPKI(setup.sandbox.dir / "pki" / "tenant-a")
    pair = (str(admin.folder / "admin.crt"), str(admin.folder / "admin.key"))
    with pytest.raises((ssl.SSLError, ConnectionError)):
        setup.call(f"/containerLogs/{setup.ns}/{POD}/main", cert=pair)


def test_run_answers_the_command_output(setup: Setup) -> None:
    status, text = setup.call(f"/run/{setup.ns}/{POD}/main?cmd=echo+ran+here", method="POST")
    assert (status, text) == (200, "ran here\n")


def _edge_pod(setup: Setup, name: str = POD) -> dict[str, Any]:
    ens = edge_ns(setup.sandbox, "tenant-a", setup.ns)
    return get_json(setup.edge(), "pod", name, "-n", ens)


def _ephemeral_names(pod: dict[str, Any]) -> set[str]:
    return {c["name"] for c in pod["spec"].get("ephemeralContainers") or []}


def test_debug_container_reaches_the_edge_and_attach_reaches_it(setup: Setup) -> None:
    setup.kubectl("debug", POD, "--image=busybox", "-c", "dbg", "--", "sleep", "1d")
    wait_for(lambda: "dbg" in _ephemeral_names(_edge_pod(setup)), 60, "dbg on the edge pod")
    assert_attach_sees_new_output(setup, "dbg")


def _refused_events(setup: Setup, pod: str) -> list[dict[str, Any]]:
    events = json.loads(setup.kubectl("get", "events", "-o", "json", "--field-selector",
                                      f"involvedObject.name={pod}").stdout)["items"]
    return [e for e in events if e["reason"] == "EphemeralContainerRefused"]


def test_refused_debug_container_leaves_the_pod_alone_and_loss_is_still_seen(
        setup: Setup) -> None:
    name = "lost"
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": setup.ns},
           "spec": {"containers": [{"name": "main", "image": "busybox", **HARDENED_CONTAINER}]}}
    apply(setup.tenant, pod)
    wait_for(lambda: get_json(setup.tenant, "pod", name, "-n", setup.ns).get(
        "status", {}).get("phase") == "Running", 120, "second pod running")
    edge_before = _edge_pod(setup, name)
    setup.kubectl("debug", name, "--image=busybox", "-c", "root", "--profile=sysadmin", "--",
                  "sleep", "1d")
    events = wait_for(lambda: _refused_events(setup, name), 60, "EphemeralContainerRefused")
    assert "privileged" in events[0]["message"]
    edge_after = _edge_pod(setup, name)
    assert not _ephemeral_names(edge_after)
    assert edge_after["metadata"]["uid"] == edge_before["metadata"]["uid"]
    # The edge copy vanishes: fusionvc still notices (the refused container does not hide it).
    ens = edge_ns(setup.sandbox, "tenant-a", setup.ns)
    setup.edge().kubectl("delete", "pod", name, "-n", ens, "--grace-period=0", "--force")
    wait_for(lambda: get_json(setup.tenant, "pod", name, "-n", setup.ns).get(
        "status", {}).get("reason") == "EdgePodLost", 60, "the tenant pod marked EdgePodLost")


def test_stopped_edge_apiserver_is_502_naming_the_cluster(setup: Setup) -> None:
    edge = setup.edge()
    setup.sandbox.run("stop", f"{edge.name}-apiserver")
    try:
        status, text = setup.call(f"/containerLogs/{setup.ns}/{POD}/main")
        assert status == 502 and edge.name in text
        assert edge.url not in text and edge_ns(setup.sandbox, "tenant-a", setup.ns) not in text
        failed = setup.kubectl("logs", POD, check=False)
        assert failed.returncode != 0 and edge.name in failed.stderr
        assert edge.url not in failed.stderr
    finally:
        setup.sandbox.run("start", f"{edge.name}-apiserver")
    wait_for(lambda: setup.kubectl("logs", POD, "--tail=1", check=False).returncode == 0, 120,
             "logs again once the edge apiserver is back")
