"""Kubelet paths and queries, and their edge API server equivalents (pure, table-tested).

A tenant kube-apiserver calls a node's kubelet with the paths of
``pkg/kubelet/server/server.go``; ``parse_kubelet_path`` reads one into a
:class:`KubeletCall`, and ``edge_call`` gives the edge API server's pod
subresource call for the pod's edge copy, with every kubectl option kept:

==========================================  =========================================
kubelet (from the tenant kube-apiserver)    edge API server
==========================================  =========================================
/containerLogs/NS/POD/CTR?follow&tailLines  pods/log?container=CTR&follow&tailLines
  &sinceSeconds&sinceTime&timestamps          &sinceSeconds&sinceTime&timestamps
  &previous&limitBytes                        &previous&limitBytes
/exec/NS/POD[/UID]/CTR?command=..&input=1   pods/exec?container=CTR&command=..&stdin=true
  &output=1&error=1&tty=1                     &stdout=true&stderr=true&tty=true
/attach/NS/POD[/UID]/CTR?input=1&...        pods/attach?container=CTR&stdin=true&...
/portForward/NS/POD[/UID]?port=80,443       pods/portforward?ports=80&ports=443
/run/NS/POD[/UID]/CTR?cmd=ls+-l             pods/exec?container=CTR&command=ls&command=-l
                                              &stdout=true&stderr=true
==========================================  =========================================
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import quote, unquote

LOGS, EXEC, ATTACH, PORT_FORWARD, RUN = "containerLogs", "exec", "attach", "portForward", "run"
OPERATIONS = (LOGS, EXEC, ATTACH, PORT_FORWARD, RUN)
SUBRESOURCE = {LOGS: "log", EXEC: "exec", ATTACH: "attach", PORT_FORWARD: "portforward",
               RUN: "exec"}
LOG_PARAMS = ("follow", "previous", "timestamps", "sinceSeconds", "sinceTime", "tailLines",
              "limitBytes")
STREAM_FLAGS = (("input", "stdin"), ("output", "stdout"), ("error", "stderr"), ("tty", "tty"))
TRUE_VALUES = ("1", "true", "True")

Query = tuple[tuple[str, str], ...]


class BadKubeletPath(ValueError):
    """The path is not one of the kubelet calls this endpoint serves (answered 404)."""


@dataclass(frozen=True)
class KubeletCall:
    operation: str  # one of OPERATIONS
    namespace: str
    pod: str
    uid: str  # "" when the path carries none
    container: str  # "" for portForward


def parse_kubelet_path(path: str) -> KubeletCall:
    """``/exec/ns/pod/uid/ctr`` and friends; raises BadKubeletPath for anything else."""
    parts = [unquote(p) for p in path.split("/")[1:]]
    if not parts or parts[0] not in OPERATIONS:
        raise BadKubeletPath(f"no kubelet call at {path!r}")
    op, rest = parts[0], parts[1:]
    if any(not p for p in rest):
        raise BadKubeletPath(f"empty segment in {path!r}")
    if op == PORT_FORWARD and len(rest) in (2, 3):
        return KubeletCall(op, rest[0], rest[1], rest[2] if len(rest) == 3 else "", "")
    if op == LOGS and len(rest) == 3:
        return KubeletCall(op, rest[0], rest[1], "", rest[2])
    if op in (EXEC, ATTACH, RUN) and len(rest) in (3, 4):
        uid = rest[2] if len(rest) == 4 else ""
        return KubeletCall(op, rest[0], rest[1], uid, rest[-1])
    raise BadKubeletPath(f"{op} does not take {len(rest)} path segments")


def _flag_query(query: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    given = {k for k, v in query if v in TRUE_VALUES}
    return [(edge, "true") for kubelet, edge in STREAM_FLAGS if kubelet in given]


def _ports(query: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    ports: list[tuple[str, str]] = []
    for key, value in query:
        if key in ("port", "ports"):
            ports.extend(("ports", p.strip()) for p in value.split(",") if p.strip())
    return ports


def edge_query(call: KubeletCall, query: Sequence[tuple[str, str]]) -> Query:
    """The edge subresource's query for a kubelet query (unknown parameters are dropped)."""
    out: list[tuple[str, str]] = []
    if call.container:
        out.append(("container", call.container))
    if call.operation == LOGS:
        out.extend((k, v) for k, v in query if k in LOG_PARAMS)
    elif call.operation in (EXEC, ATTACH):
        out.extend(_flag_query(query))
        if call.operation == EXEC:
            out.extend(("command", v) for k, v in query if k == "command")
    elif call.operation == RUN:
        out.extend([("stdout", "true"), ("stderr", "true")])
        out.extend(("command", word) for word in run_command(query))
    else:
        out.extend(_ports(query))
    return tuple(out)


def run_command(query: Iterable[tuple[str, str]]) -> list[str]:
    """``/run``'s ``cmd`` is one shell-like string (as the kubelet splits it)."""
    cmd = next((v for k, v in query if k == "cmd"), "")
    return shlex.split(cmd)


def edge_path(edge_namespace: str, call: KubeletCall) -> str:
    """The edge API path of the subresource, for the pod's copy in its edge namespace."""
    return (f"/api/v1/namespaces/{quote(edge_namespace, safe='')}/pods/"
            f"{quote(call.pod, safe='')}/{SUBRESOURCE[call.operation]}")
