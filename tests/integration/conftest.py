"""Fixtures of the integration tests: the session's sandbox of real clusters."""

from __future__ import annotations

import os
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


@pytest.fixture(scope="session")
def sandbox(request: pytest.FixtureRequest) -> Iterator[SandboxHandle]:
    state_dir = Path(os.environ.get("FUSIONVC_TEST_SANDBOX_DIR", REPO / ".sandbox-test")).resolve()
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
