"""Fixtures of the syncer unit tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .harness import SyncTest


@pytest.fixture
def sync() -> Iterator[SyncTest]:
    """A SyncTest with tenant-a (namespace "shop") and edge-1 (node "n1")."""
    test = SyncTest.one_of_each()
    yield test
    test.close()
