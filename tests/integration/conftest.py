"""Fixtures of the integration tests: the session's sandbox of real clusters."""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from .metrics_helpers import metrics_api_args
from .sandbox_fixture import REPO, SandboxHandle, start_sandbox
from .syncer_fixture import SyncerProcess

# Modules that need no session syncer, or run their own competing ones (leader election,
# bad settings), run before any module starts the session's syncer: two syncers holding
# one Lease would make them fail.
WITHOUT_SESSION_SYNCER = ("test_sandbox.py", "test_operations.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "integration" in str(item.path):
            item.add_marker(pytest.mark.integration)
    first = {name: i for i, name in enumerate(WITHOUT_SESSION_SYNCER)}
    items.sort(key=lambda item: first.get(item.path.name, len(first)))  # stable otherwise


def _state_dir() -> Path:
    return Path(os.environ.get("FUSIONVC_TEST_SANDBOX_DIR", REPO / ".sandbox-test")).resolve()


ERROR_LINE = re.compile(r'^E\d{4} |"level": ?"(?:ERROR|error)"')


def error_kind(line: str) -> str:
    """What an error line says, without its time and values: klog's text up to its first
    key=value, or a JSON line's msg/event and the start of its err."""
    if line.startswith("{"):
        try:
            doc = json.loads(line)
        except ValueError:
            return line[:120]
        what = str(doc.get("msg") or doc.get("event") or "")
        return f"{what}: {str(doc.get('err') or doc.get('error') or '')[:80]}"
    text = line.split("] ", 1)[-1]
    what = re.split(r" \w+=", text, maxsplit=1)[0][:120]
    err = re.search(r' err="([^"]{0,80})', text)
    return f"{what}: {err.group(1)}" if err else what


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """After failed integration tests, each component's most frequent errors: CI keeps only
    its terminal output, and a broken component (a metrics-server that cannot scrape)
    shows there and nowhere in the failed assertions."""
    failed = [r for r in terminalreporter.stats.get("failed", []) if "integration" in r.nodeid]
    logs = _state_dir() / "logs"
    if not failed or not logs.is_dir():
        return
    terminalreporter.section("sandbox log errors (the 2 most frequent per log)")
    for path in sorted(logs.glob("*.log")):
        with path.open(errors="replace") as lines:
            kinds = Counter(error_kind(ln.rstrip()) for ln in lines if ERROR_LINE.search(ln))
        for kind, count in kinds.most_common(2):
            terminalreporter.write_line(f"{path.stem}: {count}x {kind}")


@pytest.fixture(scope="session")
def sandbox(request: pytest.FixtureRequest) -> Iterator[SandboxHandle]:
    state_dir = _state_dir()
    handle = start_sandbox(state_dir)
    yield handle
    if os.environ.get("FUSIONVC_TEST_KEEP_SANDBOX") == "1":
        return
    handle.run("down", check=False)
    if request.session.testsfailed:
        print(f"\nsandbox logs kept in {state_dir / 'logs'}")


@pytest.fixture(scope="session")
def syncer(sandbox: SandboxHandle) -> Iterator[SyncerProcess]:
    """One syncer for the session's tests (tests that kill it start it again)."""
    proc = SyncerProcess(sandbox, extra_args=("--drift-scan-interval=10s",
                                               *metrics_api_args(sandbox))).start()
    yield proc
    proc.terminate()
    # The syncer ran with FUSIONVC_CHECK_SHARED=1: any code that changed a cached object in
    # place (they are shared between objects; see syncer/kube/compact.py) was logged.
    changed = [ln for ln in proc.log_lines() if "shared cached subtree" in ln.get("event", "")]
    assert not changed, f"cached objects were changed in place: {changed[:3]}"
