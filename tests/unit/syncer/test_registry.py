"""Which syncers run: BUILTIN_SYNCERS, --extra-kinds references, one syncer per kind."""

from __future__ import annotations

import pytest

from syncer.core.controller import build_syncers
from syncer.kinds import BUILTIN_SYNCERS
from syncer.kinds.pods import PodSyncer
from syncer.kinds.registry import load_syncer, syncer_classes
from syncer.ops.settings import SettingsError
from tests.integration.toy_kind import PodTemplateSyncer

from .harness import SyncTest

TOY = "tests.integration.toy_kind:PodTemplateSyncer"


def test_builtin_kinds_are_listed_once_each() -> None:
    kinds = [cls.kind for cls in BUILTIN_SYNCERS]
    assert sorted(kinds) == sorted(set(kinds)) == sorted(
        ["Namespace", "Node", "ConfigMap", "Secret", "RuntimeClass", "RegistryCredentials",
         "ImagePrewarm", "EdgeDataset", "Service", "Pod", "Event", "ServiceDomain", "PodSecret",
         "PersistentVolumeClaim", "MetricsDelivery"])


def test_an_extra_kind_is_loaded_after_the_builtin_ones() -> None:
    assert load_syncer(TOY) is PodTemplateSyncer
    assert syncer_classes([TOY]) == (*BUILTIN_SYNCERS, PodTemplateSyncer)


@pytest.mark.parametrize(("ref", "message"), [
    ("no.such.module:Thing", "--extra-kinds: cannot import 'no.such.module'"),
    ("tests.integration.toy_kind:Missing", "has no 'Missing'"),
    ("tests.integration.toy_kind:PODTEMPLATES", "is not a ResourceSyncer subclass"),
])
def test_a_bad_reference_names_the_setting(ref: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        load_syncer(ref)


def test_two_syncers_for_one_kind_are_refused() -> None:
    sync = SyncTest()
    with pytest.raises(ValueError, match="two syncers for kind Pod"):
        build_syncers(sync.ctx, (PodSyncer, PodSyncer))
    sync.close()


async def test_the_toy_kind_copies_to_every_edge_through_the_harness() -> None:
    from syncer.kube.apis import NAMESPACES
    from tests.builders import namespace
    from tests.integration.toy_kind import PODTEMPLATES
    sync = SyncTest(syncer_classes([TOY]))
    tenant, edges = sync.add_tenant(), [sync.add_edge("edge-1"), sync.add_edge("edge-2")]
    for conn in (tenant, *edges):  # the toy kind's resource gets a store in every cluster
        assert "podtemplates" in conn.informers
    sync.put(tenant, NAMESPACES, namespace("shop"))
    tpl = {"apiVersion": "v1", "kind": "PodTemplate",
           "metadata": {"name": "tpl", "namespace": "shop"}, "template": {"spec": {}}}
    sync.put(tenant, PODTEMPLATES, tpl)
    await sync.settle()
    assert all(sync.client(e).writes(PODTEMPLATES) for e in edges)
    sync.remove(tenant, PODTEMPLATES, "shop", "tpl")
    await sync.settle()
    assert all(not list(e.store(PODTEMPLATES)) for e in edges)
    sync.close()
