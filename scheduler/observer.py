"""Metrics hooks: what the scheduler reports, without depending on any metrics library.

Owns the SchedulerObserver protocol and its no-op default; the syncer adapts
it to Prometheus. Result values of attempt(): "scheduled", "unschedulable",
"error". Extension points of plugin(): "PreFilter", "ClusterFilter",
"ShapeFilter", "Filter", "PreScore", "Score", "NormalizeScore"; the times of
the three filter points are the sum over one cycle. Every point is measured in
a sample of the cycles only (Profile.plugin_metrics_sample_percent), as in
kube-scheduler: timing each per-node call costs more than the call, and a
histogram observation per plugin per decision was 1-2% of the syncer's CPU.
"""

from __future__ import annotations

from typing import Protocol


class SchedulerObserver(Protocol):
    def attempt(self, result: str, seconds: float) -> None:
        """One schedule() call ended with `result` after `seconds`."""

    def plugin(self, name: str, extension_point: str, seconds: float) -> None:
        """Plugin `name` spent `seconds` at `extension_point` in one cycle."""


class NoopObserver:
    def attempt(self, result: str, seconds: float) -> None:
        pass

    def plugin(self, name: str, extension_point: str, seconds: float) -> None:
        pass
