"""WorkKey: the one key every piece of work is queued under (always tenant-side)."""

from __future__ import annotations

from typing import NamedTuple


class WorkKey(NamedTuple):
    tenant: str
    kind: str
    namespace: str
    name: str

    def __str__(self) -> str:
        ns = f"{self.namespace}/" if self.namespace else ""
        return f"{self.tenant}:{self.kind}:{ns}{self.name}"
