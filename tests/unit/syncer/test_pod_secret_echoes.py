"""SecretEchoes: the event showing a pod Secret exactly as written is not queued."""

from __future__ import annotations

import copy

import pytest

from syncer.kinds.pod_secret_echoes import SecretEchoes
from syncer.kube import Obj


def secret(data: str = "dG9r", owner: str | None = None) -> Obj:
    meta: Obj = {"name": "fusionvc-pod-1", "namespace": "t-ns", "uid": "s-1",
                 "labels": {"a": "b"}, "annotations": {"x": "y"}}
    if owner:
        meta["ownerReferences"] = [{"apiVersion": "v1", "kind": "Pod", "name": "web",
                                    "uid": owner}]
    return {"metadata": meta, "type": "Opaque", "data": {"token": data}}


def served(sent: Obj) -> Obj:
    """The object as the API server stores it: what was sent, plus what it owns."""
    out = copy.deepcopy(sent)
    out["metadata"]["resourceVersion"] = "77"
    return out


async def test_an_update_echo_is_skipped_once_and_nothing_else() -> None:
    echoes, before, after = SecretEchoes(), secret(), secret(owner="p-1")
    assert not echoes.is_echo("edge-1", before, served(after))  # nothing noted
    async with echoes.writing("edge-1", after):
        pass
    assert not echoes.is_echo("edge-2", before, served(after))  # another cluster
    assert not echoes.is_echo("edge-1", before, served(secret("b3Ro", owner="p-1")))
    assert not echoes.is_echo("edge-1", served(after), None)  # gone is not this write
    assert echoes.is_echo("edge-1", before, served(after))
    assert not echoes.is_echo("edge-1", before, served(after))  # the note is taken


async def test_a_delete_echo_is_the_secret_gone() -> None:
    echoes, have = SecretEchoes(), served(secret(owner="p-1"))
    assert not echoes.removing("edge-1", have)
    async with echoes.writing("edge-1", have, deleting=True):
        pass
    assert echoes.removing("edge-1", have) and not echoes.removing("edge-2", have)
    assert not echoes.is_echo("edge-1", have, served(secret("b3Ro")))
    assert echoes.is_echo("edge-1", have, None)
    assert not echoes.is_echo("edge-1", have, None)
    assert not echoes.removing("edge-1", have)  # its event came


async def test_a_write_that_failed_leaves_no_note() -> None:
    echoes, want = SecretEchoes(), secret(owner="p-1")
    with pytest.raises(RuntimeError):
        async with echoes.writing("edge-1", want):
            raise RuntimeError("409")
    assert not echoes.is_echo("edge-1", secret(), served(want))
