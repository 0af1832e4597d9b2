"""The syncer's own /metrics, read by benchmarks: histograms by one label, and gauges.

One scrape is a snapshot; two snapshots give what happened between them
(``Histo.minus``): mean, and quantiles estimated from the buckets as Prometheus'
``histogram_quantile`` does (the upper bound of the bucket holding the quantile).
"""

from __future__ import annotations

import urllib.request
from dataclasses import dataclass, field

from prometheus_client.parser import text_string_to_metric_families


@dataclass
class Histo:
    """One histogram child: sum, count and cumulative bucket counts by upper bound."""

    sum: float = 0.0
    count: float = 0.0
    buckets: dict[float, float] = field(default_factory=dict)

    def minus(self, before: Histo | None) -> Histo:
        if before is None:
            return self
        return Histo(self.sum - before.sum, self.count - before.count,
                     {le: n - before.buckets.get(le, 0.0) for le, n in self.buckets.items()})

    def mean(self) -> float:
        return self.sum / self.count if self.count else float("nan")

    def quantile(self, q: float) -> float:
        """The upper bound of the bucket that holds the q-quantile (inf: past the last)."""
        if not self.count:
            return float("nan")
        for le in sorted(self.buckets):
            if self.buckets[le] >= q * self.count:
                return le
        return float("inf")

    def summary(self) -> dict[str, float]:
        return {"count": self.count, "mean_s": round(self.mean(), 4),
                "p50_le_s": self.quantile(0.5), "p99_le_s": self.quantile(0.99)}


def scrape_text(metrics_url: str) -> str:
    with urllib.request.urlopen(metrics_url, timeout=10) as resp:
        return str(resp.read().decode())


def leading_and_ready(metrics_url: str) -> bool:
    """The syncer leads and /readyz answers 200. A replica that does not lead yet is ready
    as a standby before it has connected a single cluster, so leadership is read first: read
    after /readyz, a process that won the Lease between the two requests looked ready with
    nothing listed (a 0.66 s "restart" at 10,000 pods)."""
    try:
        if gauges(scrape_text(metrics_url), "fusionvc_is_leader") != 1.0:
            return False
        with urllib.request.urlopen(metrics_url.replace("/metrics", "/readyz"),
                                    timeout=2) as resp:
            return bool(resp.status == 200)
    except OSError:
        return False


def histograms(text: str, family_name: str, by: str) -> dict[str, Histo]:
    """The histogram ``family_name`` summed by the label ``by`` (other labels added up)."""
    out: dict[str, Histo] = {}
    for family in text_string_to_metric_families(text):
        if family.name != family_name:
            continue
        for s in family.samples:
            h = out.setdefault(s.labels.get(by, ""), Histo())
            if s.name.endswith("_sum"):
                h.sum += s.value
            elif s.name.endswith("_count"):
                h.count += s.value
            elif s.name.endswith("_bucket"):
                le = float(s.labels["le"])
                h.buckets[le] = h.buckets.get(le, 0.0) + s.value
    return out


def gauges(text: str, family_name: str) -> float:
    """The sum of every child of a gauge (or counter) family."""
    return sum(s.value for family in text_string_to_metric_families(text)
               if family.name == family_name for s in family.samples
               if not s.name.endswith("_created"))


def between(before: dict[str, Histo], after: dict[str, Histo]) -> dict[str, dict[str, float]]:
    """Per label value, the summary of what was observed between two scrapes."""
    return {k: h.minus(before.get(k)).summary() for k, h in sorted(after.items())
            if h.count - (before[k].count if k in before else 0.0) > 0}


def counters(text: str, family_name: str, by: tuple[str, ...]) -> dict[tuple[str, ...], float]:
    """A counter family summed by the labels ``by``."""
    out: dict[tuple[str, ...], float] = {}
    for family in text_string_to_metric_families(text):
        if family.name != family_name:
            continue
        for s in family.samples:
            if s.name.endswith("_total"):
                key = tuple(s.labels.get(b, "") for b in by)
                out[key] = out.get(key, 0.0) + s.value
    return out


def call_waits(before: str, after: str, roles: dict[str, str]) -> dict[str, dict[str, float]]:
    """Per '<cluster role> <verb>': the syncer's requests between two scrapes and their mean
    seconds (fusionvc_api_requests_total, fusionvc_api_request_seconds_total)."""
    def by_role(text: str, family: str) -> dict[str, float]:
        out: dict[str, float] = {}
        for (cluster, verb), v in counters(text, family, ("cluster", "verb")).items():
            key = f"{roles.get(cluster, 'management')} {verb}"
            out[key] = out.get(key, 0.0) + v
        return out
    n0, n1 = by_role(before, "fusionvc_api_requests"), by_role(after, "fusionvc_api_requests")
    s0 = by_role(before, "fusionvc_api_request_seconds")
    s1 = by_role(after, "fusionvc_api_request_seconds")
    out: dict[str, dict[str, float]] = {}
    for key in sorted(n1):
        calls = n1[key] - n0.get(key, 0.0)
        if calls > 0 and not key.endswith("WATCH"):
            out[key] = {"calls": calls,
                        "mean_s": round((s1.get(key, 0.0) - s0.get(key, 0.0)) / calls, 4)}
    return out
