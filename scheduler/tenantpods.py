"""Every tenant's pods, real and assumed, indexed for the inter-pod plugins.

Owns TenantPods: the records of each tenant's pods (PodRecord.tenant set),
by tenant, by (tenant, label key, value) so that a selector looks only at the
pods that have a label it requires, and those with required anti-affinity
(every pod being placed is checked against them) or with terms that weigh in
other pods' scores (required affinity, preferred terms), by a label their
terms require.
Read through the ClusterSnapshot (snapshot.tenant_pods).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from .nodeinfo import PodKey, PodRecord
from .podaffinity import LabelSelector, TenantPod

Index = dict[Any, dict[PodKey, PodRecord]]


def required_label(selector: LabelSelector) -> tuple[str, str]:
    """A label every pod the selector matches has, or ("", "") when there is none."""
    for requirement in selector.requirements:
        if requirement.operator == "In" and len(requirement.values) == 1:
            (value,) = requirement.values
            return requirement.key, value
    return "", ""


class TenantPods:
    def __init__(self) -> None:
        self._by_tenant: Index = {}  # tenant -> its pods
        self._by_label: Index = {}  # (tenant, label key, value) -> pods with that label
        # (tenant, key, value) a required anti-affinity term requires -> pods with that term
        self._anti: Index = {}
        # (tenant, key, value) a scoring term requires -> pods with that term
        self._scoring: Index = {}
        self._with_scoring: dict[str, int] = {}  # tenant -> its pods with scoring terms

    def add(self, record: PodRecord) -> None:
        for index, key in self._entries(record):
            index.setdefault(key, {})[record.key] = record
        self._count_scoring(record, 1)

    def remove(self, record: PodRecord) -> None:
        for index, key in self._entries(record):
            pods = index.get(key, {})
            pods.pop(record.key, None)
            if not pods:
                index.pop(key, None)
        self._count_scoring(record, -1)

    def _count_scoring(self, record: PodRecord, sign: int) -> None:
        pod = record.tenant
        if pod is not None and pod.scoring:
            left = self._with_scoring.get(pod.tenant, 0) + sign
            if left > 0:
                self._with_scoring[pod.tenant] = left
            else:
                self._with_scoring.pop(pod.tenant, None)

    def has_scoring_terms(self, tenant: str) -> bool:
        """Has any of the tenant's pods terms that weigh in other pods' scores?"""
        return tenant in self._with_scoring

    def _entries(self, record: PodRecord) -> Iterator[tuple[Index, Any]]:
        pod = record.tenant
        assert pod is not None
        yield self._by_tenant, pod.tenant
        for label in pod.labels.items():
            yield self._by_label, (pod.tenant, *label)
        for label in {required_label(term.selector) for term in pod.required_anti}:
            yield self._anti, (pod.tenant, *label)
        for label in {required_label(term.selector) for term, _ in pod.scoring}:
            yield self._scoring, (pod.tenant, *label)

    def of(self, tenant: str) -> Iterable[PodRecord]:
        """The tenant's pods on every edge cluster."""
        return self._by_tenant.get(tenant, {}).values()

    def matching(self, tenant: str, selector: LabelSelector) -> Iterable[PodRecord]:
        """The tenant's pods that may match the selector (a superset: match each one):
        those with the rarest label the selector requires, else all of them."""
        if selector.matches_nothing:
            return ()
        best: dict[PodKey, PodRecord] | None = None
        for requirement in selector.requirements:
            if requirement.operator == "In" and len(requirement.values) == 1:
                (value,) = requirement.values
                found = self._by_label.get((tenant, requirement.key, value), {})
                if best is None or len(found) < len(best):
                    best = found
        return self.of(tenant) if best is None else best.values()

    def with_anti_affinity_for(self, pod: TenantPod) -> Iterator[PodRecord]:
        """The tenant's pods with required anti-affinity terms that may match `pod` (a
        superset: match each term)."""
        return self._candidates(self._anti, pod)

    def with_scoring_terms_for(self, pod: TenantPod) -> Iterator[PodRecord]:
        """The tenant's pods with scoring terms (TenantPod.scoring) that may match `pod` (a
        superset: match each term)."""
        return self._candidates(self._scoring, pod)

    @staticmethod
    def _candidates(index: Index, pod: TenantPod) -> Iterator[PodRecord]:
        if not index:
            return
        seen: set[PodKey] = set()
        for label in (("", ""), *pod.labels.items()):
            for key, record in index.get((pod.tenant, *label), {}).items():
                if key not in seen:
                    seen.add(key)
                    yield record
