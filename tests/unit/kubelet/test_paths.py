"""Kubelet path and query -> edge subresource path and query (syncer/kubelet/paths.py)."""

from __future__ import annotations

import pytest

from syncer.kubelet.paths import (
    BadKubeletPath,
    KubeletCall,
    edge_path,
    edge_query,
    parse_kubelet_path,
)


@pytest.mark.parametrize(("path", "call"), [
    ("/containerLogs/ns/web/main", KubeletCall("containerLogs", "ns", "web", "", "main")),
    ("/exec/ns/web/main", KubeletCall("exec", "ns", "web", "", "main")),
    ("/exec/ns/web/uid-1/main", KubeletCall("exec", "ns", "web", "uid-1", "main")),
    ("/attach/ns/web/uid-1/debugger", KubeletCall("attach", "ns", "web", "uid-1", "debugger")),
    ("/portForward/ns/web", KubeletCall("portForward", "ns", "web", "", "")),
    ("/portForward/ns/web/uid-1", KubeletCall("portForward", "ns", "web", "uid-1", "")),
    ("/run/ns/web/main", KubeletCall("run", "ns", "web", "", "main")),
    ("/exec/n%2Fs/web/main", KubeletCall("exec", "n/s", "web", "", "main")),
])
def test_parse_kubelet_path(path: str, call: KubeletCall) -> None:
    assert parse_kubelet_path(path) == call


@pytest.mark.parametrize("path", [
    "/", "/pods", "/stats/summary", "/containerLogs/ns/web", "/containerLogs/ns/web/uid/main",
    "/exec/ns/web", "/exec/ns//main", "/portForward/ns", "/portForward/a/b/c/d",
    "/configz", "/exec/a/b/c/d/e",
])
def test_other_paths_are_refused(path: str) -> None:
    with pytest.raises(BadKubeletPath):
        parse_kubelet_path(path)


LOGS = KubeletCall("containerLogs", "ns", "web", "", "main")
EXEC = KubeletCall("exec", "ns", "web", "u", "main")
ATTACH = KubeletCall("attach", "ns", "web", "u", "main")
PF = KubeletCall("portForward", "ns", "web", "u", "")
RUN = KubeletCall("run", "ns", "web", "", "main")


@pytest.mark.parametrize(("call", "query", "want"), [
    (LOGS, [], [("container", "main")]),
    (LOGS, [("follow", "true"), ("tailLines", "5"), ("sinceSeconds", "60"),
            ("timestamps", "true"), ("previous", "true"), ("limitBytes", "100"),
            ("sinceTime", "2026-11-30T19:00:00Z"), ("insecureSkipTLSVerifyBackend", "true")],
     [("container", "main"), ("follow", "true"), ("tailLines", "5"), ("sinceSeconds", "60"),
      ("timestamps", "true"), ("previous", "true"), ("limitBytes", "100"),
      ("sinceTime", "2026-11-30T19:00:00Z")]),
    (EXEC, [("command", "sh"), ("command", "-c"), ("command", "exit 3"), ("input", "1"),
            ("output", "1"), ("error", "1"), ("tty", "1")],
     [("container", "main"), ("stdin", "true"), ("stdout", "true"), ("stderr", "true"),
      ("tty", "true"), ("command", "sh"), ("command", "-c"), ("command", "exit 3")]),
    (EXEC, [("command", "ls"), ("output", "1"), ("error", "0")],
     [("container", "main"), ("stdout", "true"), ("command", "ls")]),
    (ATTACH, [("input", "1"), ("output", "1"), ("command", "ignored")],
     [("container", "main"), ("stdin", "true"), ("stdout", "true")]),
    (PF, [("port", "8080,9090")], [("ports", "8080"), ("ports", "9090")]),
    (PF, [], []),
    (RUN, [("cmd", "ls -l 'a b'")],
     [("container", "main"), ("stdout", "true"), ("stderr", "true"), ("command", "ls"),
      ("command", "-l"), ("command", "a b")]),
])
def test_edge_query(call: KubeletCall, query: list[tuple[str, str]],
                    want: list[tuple[str, str]]) -> None:
    assert list(edge_query(call, query)) == want


@pytest.mark.parametrize(("call", "want"), [
    (LOGS, "/api/v1/namespaces/t-abc-ns/pods/web/log"),
    (EXEC, "/api/v1/namespaces/t-abc-ns/pods/web/exec"),
    (ATTACH, "/api/v1/namespaces/t-abc-ns/pods/web/attach"),
    (PF, "/api/v1/namespaces/t-abc-ns/pods/web/portforward"),
    (RUN, "/api/v1/namespaces/t-abc-ns/pods/web/exec"),
])
def test_edge_path(call: KubeletCall, want: str) -> None:
    assert edge_path("t-abc-ns", call) == want
