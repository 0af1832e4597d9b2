"""The sandbox: bring real clusters up, record them, report them, take them down."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import yaml

from . import components as comp
from . import edgedns, kubelet, metrics, seed
from .kubectl import apply_with_retry, kubectl
from .pki import ClusterPKI
from .processes import (
    ProcessRecord,
    SandboxError,
    free_ports,
    load_records,
    save_records,
    start,
    stop_all,
)
from .readiness import http_ok, https_ok, wait_all
from .stages import write_sandbox_stages
from .topology import ClusterSpec, Topology

REPO = Path(__file__).resolve().parents[2]


def byte_compile(checkout: Path = REPO) -> None:
    """Writes the .pyc files of a checkout's packages, as the image's pip install does:
    with PYTHONDONTWRITEBYTECODE (set in the image, often in shells) each start of a
    sandbox process would compile its modules again (a quarter of a second of the
    syncer's start). A module edited later is compiled in memory until the next `up`."""
    subprocess.run([str(checkout / ".venv/bin/python"), "-m", "compileall", "-q", "syncer",
                    "scheduler"], cwd=checkout, check=True, stdout=subprocess.DEVNULL,
                   timeout=300)


class Sandbox:
    def __init__(self, state_dir: Path, topology: Topology, topology_path: Path) -> None:
        self.dir = state_dir
        self.topology = topology
        self.topology_path = topology_path
        self.procs_file = state_dir / "processes.json"
        self.state_file = state_dir / "state.json"
        self.logs = state_dir / "logs"
        self.records: list[ProcessRecord] = []
        self.metrics_server_ports: dict[str, int] = {}

    # ---- status -------------------------------------------------------------------------

    def running(self) -> tuple[list[ProcessRecord], list[ProcessRecord]]:
        """(alive, dead) cluster processes; the syncer, optional, is not one of them."""
        records = [r for r in load_records(self.procs_file) if r.name != "syncer"]
        alive = [r for r in records if r.alive()]
        return alive, [r for r in records if r not in alive]

    def status(self) -> dict[str, Any]:
        alive, dead = self.running()
        state = json.loads(self.state_file.read_text()) if self.state_file.exists() else {}
        return {
            "up": bool(alive) and not dead,
            "dir": str(self.dir),
            "clusters": state.get("clusters", []),
            "etcd": state.get("etcd"),
            "syncer": state.get("syncer"),
            "gslb": state.get("gslb"),
            "metricsApi": state.get("metricsApi"),
            "edgeDns": state.get("edgeDns", []),
            "processes": {r.name: ("running" if r in alive else "stopped") for r in alive + dead},
        }

    # ---- one process -------------------------------------------------------------------

    def _record(self, name: str) -> tuple[list[ProcessRecord], ProcessRecord]:
        records = load_records(self.procs_file)
        for rec in records:
            if rec.name == name:
                return records, rec
        known = ", ".join(r.name for r in records) or "none"
        raise SandboxError(f"no process named {name!r} (known: {known})")

    def stop_one(self, name: str) -> None:
        """Stops one process (say an edge kube-apiserver, to test an outage)."""
        _, rec = self._record(name)
        stop_all([rec])

    def start_one(self, name: str) -> None:
        """Starts a stopped process again with the command line it had."""
        records, rec = self._record(name)
        if rec.alive():
            return
        if not rec.argv:
            raise SandboxError(f"{name} was started by an older hack/sandbox: run down, then up")
        new = start(rec.name, rec.argv, Path(rec.log).parent)
        save_records(self.procs_file, [new if r is rec else r for r in records])

    def start_syncer(self, log: Any = print) -> None:
        """Runs the syncer (python -m syncer) against the management cluster."""
        # running() leaves the syncer out: look at its own record, or a second one starts
        # and the first one's PID is forgotten.
        records = load_records(self.procs_file)
        running = [r for r in records if r.name == "syncer" and r.alive()]
        if running:
            log(f"sandbox: the syncer is already running (pid {running[0].pid})")
            return
        records = [r for r in records if r.name != "syncer"]
        state = json.loads(self.state_file.read_text())
        mgmt = next(c for c in state["clusters"] if c["role"] == "management")
        port, kubelet_port, metrics_api_port = free_ports(3)
        argv = [
            str(REPO / ".venv/bin/python"),
            "-m",
            "syncer",
            f"--kubeconfig={mgmt['kubeconfig']}",
            "--http-host=127.0.0.1",
            f"--http-port={port}",
            "--log-format=json",
            f"--node-heartbeat={self.topology.node_heartbeat_s:g}s",
            *kubelet.syncer_args(state, kubelet_port),
            *(metrics.metrics_api_flags(state["metricsApi"], metrics_api_port)
              if state.get("metricsApi") else []),
        ]
        env = {"PYTHONPATH": str(REPO), "NO_PROXY": "127.0.0.1,localhost"}
        rec = start("syncer", argv, self.logs, env=env)
        save_records(self.procs_file, [*records, rec])
        state["syncer"] = {
            "metrics": f"http://127.0.0.1:{port}/metrics",
            "log": rec.log,
            "metricsApi": f"https://127.0.0.1:{metrics_api_port}",
        }
        self.state_file.write_text(json.dumps(state, indent=1))
        log(f"sandbox: syncer started (log {rec.log}, metrics http://127.0.0.1:{port}/metrics)")

    # ---- down ---------------------------------------------------------------------------

    def down(self) -> list[str]:
        stopped = stop_all(load_records(self.procs_file))
        self.procs_file.unlink(missing_ok=True)
        return stopped

    # ---- up -----------------------------------------------------------------------------

    def up(self, bindir: Path, log: Any = print) -> bool:
        """Starts everything; False when it was already up. Raises SandboxError on failure."""
        alive, dead = self.running()
        if alive and not dead:
            return False
        if alive or dead:
            log(
                f"sandbox: previous run is incomplete ({', '.join(r.name for r in dead)} stopped); "
                "restarting it from scratch"
            )
            self.down()
        byte_compile()  # once per sandbox: `start syncer` after an edit compiles in memory
        for sub in ("etcd", "logs"):
            shutil.rmtree(self.dir / sub, ignore_errors=True)
        self.logs.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        try:
            self._start_all(bindir, log)
        except BaseException:
            save_records(self.procs_file, self.records)
            raise
        log(f"sandbox: all clusters ready in {time.monotonic() - started:.1f}s")
        return True

    def _layouts(self, ports: list[int]) -> list[comp.ClusterLayout]:
        kubeconfigs = self.dir / "kubeconfig"
        kubeconfigs.mkdir(parents=True, exist_ok=True)
        return [
            comp.ClusterLayout(
                name=c.name,
                role=c.role,
                region=c.region,
                port=port,
                pki=ClusterPKI(self.dir / "pki" / c.name),
                kubeconfig_dir=kubeconfigs,
            )
            for c, port in zip(self.topology.clusters, ports, strict=True)
        ]

    def _spawn(self, name: str, argv: list[str]) -> ProcessRecord:
        rec = start(name, argv, self.logs)
        self.records.append(rec)
        save_records(self.procs_file, self.records)
        return rec

    def _start_all(self, bindir: Path, log: Any) -> None:
        clusters = self.topology.clusters
        ports = free_ports(2 + len(clusters) * 3)
        etcd_url = f"http://127.0.0.1:{ports[0]}"
        layouts = self._layouts(ports[2 : 2 + len(clusters)])
        kwok_ports = iter(ports[2 + len(clusters) : 2 + len(clusters) * 2])
        metrics_ports = iter(ports[2 + len(clusters) * 2 :])
        for layout in layouts:
            layout.pki.ensure_ca(layout.name)
            self._write_kubeconfigs(layout)
        debugging = kubelet.prepare(self.dir)
        kubelet.ensure_inotify_instances(log)
        log(f"sandbox: starting etcd and {len(layouts)} kube-apiservers")
        etcd = self._spawn("etcd", comp.etcd_argv(bindir, self.dir / "etcd", ports[0], ports[1]))
        wait_all({"etcd": (etcd, lambda: http_ok(f"{etcd_url}/health"))}, 60, "etcd")
        checks = {}
        for layout in layouts:
            rec = self._spawn(
                f"{layout.name}-apiserver",
                comp.apiserver_argv(bindir, layout, etcd_url, self.topology.apiserver_profiling)
                + self._kubelet_args(layout),
            )
            admin = layout.pki.issue("admin", "sandbox-admin", ("system:masters",))
            checks[rec.name] = (
                rec,
                lambda lay=layout, a=admin: https_ok(f"{lay.url}/readyz", str(lay.pki.ca.cert), a),
            )
        wait_all(checks, 180, "kube-apiservers")
        log("sandbox: kube-apiservers ready; starting controller-managers and kwok")
        stages = write_sandbox_stages(bindir, self.dir)
        kwoks = {}
        for i, layout in enumerate(layouts):
            self._spawn(
                f"{layout.name}-controller-manager",
                comp.controller_manager_argv(bindir, layout, self.topology.node_heartbeat_s),
            )
            if layout.role == "edge":
                kwok_port = next(kwok_ports)
                rec = self._spawn(
                    f"{layout.name}-kwok",
                    comp.kwok_argv(bindir, layout, f"10.{100 + i}.0.1/16", kwok_port, stages)
                    + kubelet.kwok_args(debugging, kwok_port)
                    + metrics.kwok_metrics_argv(self._kwok_metrics_config(), kwok_port),
                )
                # kwok lives on without its server when the port is taken: no logs, no exec,
                # no metrics from that edge. Wait until it answers on it.
                kwoks[rec.name] = (rec, lambda p=kwok_port: http_ok(f"http://127.0.0.1:{p}/healthz"))
                self._spawn_metrics_server(bindir, layout, next(metrics_ports))
        wait_all(kwoks, 60, "kwok servers")
        self._write_state(layouts, etcd_url, debugging)
        self._seed(layouts, log)
        self._start_gslb(next(lay for lay in layouts if lay.role == "management"), log)
        self._start_edge_dns(layouts, log)

    def _kubelet_args(self, layout: comp.ClusterLayout) -> list[str]:
        """How this kube-apiserver reaches kubelets (fusionvc's endpoint, for a tenant)."""
        tenant = layout.role == "tenant"
        return kubelet.apiserver_args() + (
            kubelet.tenant_apiserver_args(self.dir, layout.name) if tenant else []
        )

    # ---- resource metrics (hack/sandbox_lib/metrics.py) -------------------------------

    def _kwok_metrics_config(self) -> Path:
        path = self.dir / "kwok-metrics.yaml"
        path.write_text(yaml.safe_dump_all(metrics.kwok_metrics_config(), sort_keys=False))
        return path

    def _spawn_metrics_server(self, bindir: Path, layout: comp.ClusterLayout, port: int) -> None:
        pair = layout.pki.issue("metrics-server", "system:metrics-server", ("system:masters",))
        doc = comp.kubeconfig_doc(layout.name, layout.url, layout.pki.ca.cert, pair, "ms")
        comp.write_kubeconfig(layout.kubeconfig("metrics-server"), doc)
        cert_dir = self.dir / "pki" / layout.name / "metrics-server-serving"
        argv = metrics.metrics_server_argv(
            bindir, layout.kubeconfig("metrics-server"), port, cert_dir
        )
        self._spawn(f"{layout.name}-metrics-server", argv)
        self.metrics_server_ports[layout.name] = port

    def _register_edge_metrics_server(self, lay: comp.ClusterLayout) -> None:
        port = self.metrics_server_ports[lay.name]
        objs = metrics.apiservice_objects("metrics-server", port)
        apply_with_retry(lay.kubeconfig(), seed.as_list(objs), f"{lay.name} metrics APIService")


    def _start_edge_dns(self, layouts: list[comp.ClusterLayout], log: Any) -> None:
        """One edge DNS per edge cluster (hack/sandbox_lib/edgedns.py), listed in state.json."""
        entries = edgedns.start_all(self, layouts, self.topology, log)
        state = json.loads(self.state_file.read_text())
        state["edgeDns"] = entries
        self.state_file.write_text(json.dumps(state, indent=1))

    def _write_kubeconfigs(self, layout: comp.ClusterLayout) -> None:
        pki = layout.pki
        users = {
            "admin": pki.issue("admin", "sandbox-admin", ("system:masters",)),
            "controller-manager": pki.issue("controller-manager", "system:kube-controller-manager"),
            "kwok": pki.issue("kwok", "kwok-controller", ("system:masters",)),
            # fusionvc's own identity in every cluster it syncs.
            "syncer": pki.issue("syncer", "fusionvc-syncer", ("system:masters",)),
        }
        for user, pair in users.items():
            doc = comp.kubeconfig_doc(layout.name, layout.url, pki.ca.cert, pair, user)
            comp.write_kubeconfig(layout.kubeconfig(user), doc)

    def _write_state(
        self, layouts: list[comp.ClusterLayout], etcd_url: str, debugging: kubelet.KubeletFiles
    ) -> None:
        clusters = [
            {
                "name": lay.name,
                "role": lay.role,
                "region": lay.region or None,
                "url": lay.url,
                "kubeconfig": str(lay.kubeconfig()),
                "syncerKubeconfig": str(lay.kubeconfig("syncer")),
                **self._metrics_server_state(lay.name),
            }
            for lay in layouts
        ]
        self.state_file.write_text(
            json.dumps(
                {
                    "etcd": etcd_url,
                    "clusters": clusters,
                    "topology": str(self.topology_path),
                    "kubelet": debugging.as_state(),
                    "metricsApi": metrics.metrics_api_cert(self.dir),
                },
                indent=1,
            )
        )

    def _metrics_server_state(self, cluster: str) -> dict[str, str]:
        port = self.metrics_server_ports.get(cluster)
        return {"metricsServer": f"https://127.0.0.1:{port}"} if port else {}

    def _seed(self, layouts: list[comp.ClusterLayout], log: Any) -> None:
        by_name = {lay.name: lay for lay in layouts}
        specs = {c.name: c for c in self.topology.clusters}
        mgmt = next(lay for lay in layouts if lay.role == "management")
        jobs = [lambda: self._seed_management(mgmt, specs, by_name)]
        for lay in layouts:
            if lay.role == "edge":
                jobs.append(lambda lay=lay: self._seed_edge(lay, specs[lay.name]))
            elif lay.role == "tenant":
                jobs.append(lambda lay=lay: self._wait_default_sa(lay))
        log("sandbox: registering tenants and edge clusters, creating edge nodes")
        with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
            for future in [pool.submit(job) for job in jobs]:
                future.result()

    def _seed_management(
        self,
        mgmt: comp.ClusterLayout,
        specs: dict[str, ClusterSpec],
        layouts: dict[str, comp.ClusterLayout],
    ) -> None:
        kc = mgmt.kubeconfig()
        dns_plan = edgedns.plan(self.topology)
        apply_with_retry(
            kc,
            (REPO / "config/crd/fusionvc.io_tenants.yaml").read_text()
            + "\n---\n"
            + (REPO / "config/crd/fusionvc.io_edgeclusters.yaml").read_text(),
            "CRDs",
        )
        kubectl(
            kc,
            "wait",
            "--for=condition=Established",
            "--timeout=60s",
            "crd/tenants.fusionvc.io",
            "crd/edgeclusters.fusionvc.io",
        )
        items: list[dict[str, Any]] = [
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": seed.SYSTEM_NAMESPACE}}
        ]
        for name, lay in layouts.items():
            if lay.role == "management":
                continue
            syncer_kc = yaml.safe_load(lay.kubeconfig("syncer").read_text())
            items.append(seed.kubeconfig_secret(f"{name}-kubeconfig", syncer_kc))
            spec = specs[name]
            if lay.role == "tenant":  # registry credentials (issue 15)
                items.extend(seed.registry_secrets(spec))
            items.append(
                seed.tenant_object(spec) if lay.role == "tenant" else seed.edge_cluster_object(spec)
            )
            if lay.role == "edge":
                items[-1]["spec"]["dns"] = edgedns.edge_cluster_dns(dns_plan[name])
        apply_with_retry(kc, seed.as_list(items), "tenants and edge clusters")
        self._seed_user_regions(kc)

    def _seed_edge(self, lay: comp.ClusterLayout, spec: ClusterSpec) -> None:
        kc = lay.kubeconfig()
        apply_with_retry(kc, seed.as_list(seed.edge_objects(spec)), f"{lay.name} nodes", 120)
        self._register_edge_metrics_server(lay)
        kubectl(
            kc, "wait", "--for=condition=Ready", "--timeout=120s", "nodes", "--all", timeout=130
        )

    def _seed_user_regions(self, kc: Path) -> None:
        _seed_user_regions_impl(kc, self.topology)

    def _start_gslb(self, mgmt: comp.ClusterLayout, log: Any) -> None:
        _start_gslb_impl(self, mgmt, log)

    def _wait_default_sa(self, lay: comp.ClusterLayout) -> None:
        deadline = time.monotonic() + 120
        while True:
            try:
                kubectl(lay.kubeconfig(), "get", "serviceaccount", "default", "-n", "default")
                return
            except SandboxError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(1)


# ---- GSLB: user regions and the authoritative DNS server (syncer.gslb) -----------------------

GSLB_NAMESERVER = "ns1.gslb.sandbox.fusionvc.local"


def _seed_user_regions_impl(kc: Path, topology: Topology) -> None:
    apply_with_retry(kc, (REPO / "config/crd/fusionvc.io_userregions.yaml").read_text(), "CRDs")
    kubectl(kc, "wait", "--for=condition=Established", "--timeout=60s",
            "crd/userregions.fusionvc.io")
    if topology.user_networks:
        objects = seed.user_region_objects(topology.user_networks)
        apply_with_retry(kc, seed.as_list(objects), "user regions")


def _dns_answers(port: int) -> bool:
    import dns.exception
    import dns.message
    import dns.query

    try:
        dns.query.udp(dns.message.make_query("probe.invalid", "SOA"), "127.0.0.1", port=port,
                      timeout=1)
        return True
    except (dns.exception.DNSException, OSError):
        return False


def _start_gslb_impl(sandbox: Sandbox, mgmt: comp.ClusterLayout, log: Any) -> None:
    port, http_port = free_ports(2)
    argv = [str(REPO / ".venv/bin/python"), "-m", "syncer.gslb",
            f"--kubeconfig={mgmt.kubeconfig()}", "--listen=127.0.0.1", f"--port={port}",
            f"--namespace={seed.SYSTEM_NAMESPACE}", f"--nameserver={GSLB_NAMESERVER}",
            "--http-host=127.0.0.1", f"--http-port={http_port}"]
    env = {"PYTHONPATH": str(REPO), "NO_PROXY": "127.0.0.1,localhost"}
    rec = start("gslb", argv, sandbox.logs, env=env)
    sandbox.records.append(rec)
    save_records(sandbox.procs_file, sandbox.records)
    wait_all({"gslb": (rec, lambda: _dns_answers(port))}, 60, "GSLB DNS server")
    state = json.loads(sandbox.state_file.read_text())
    state["gslb"] = {"address": "127.0.0.1", "port": port, "log": rec.log,
                     "metrics": f"http://127.0.0.1:{http_port}/metrics"}
    sandbox.state_file.write_text(json.dumps(state, indent=1))
    log(f"sandbox: GSLB DNS server on 127.0.0.1:{port} (udp and tcp)")


def build_bins(log: Any = print) -> Path:
    """Runs hack/build-bins (a no-op when built) and returns the folder of the binaries."""
    proc = subprocess.run(
        ["bash", str(REPO / "hack/build-bins")], stdout=subprocess.PIPE, text=True, check=False
    )
    lines = proc.stdout.strip().splitlines()
    for line in lines[:-1]:
        log(line)
    if proc.returncode != 0 or not lines:
        raise SandboxError("hack/build-bins failed (see its output above)")
    return Path(lines[-1])
