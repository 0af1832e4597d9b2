"""Store and its secondary indexes (syncer/kube/store.py)."""

from __future__ import annotations

from typing import Any

import pytest

from syncer.kube import Obj
from syncer.kube.store import Store, key_of


def obj(name: str, ns: str = "default", **labels: str) -> Obj:
    meta: dict[str, Any] = {"name": name, "labels": dict(labels)}
    if ns:
        meta["namespace"] = ns
    return {"metadata": meta}


def by_team(o: Obj) -> list[str]:
    team = o["metadata"]["labels"].get("team")
    return [team] if team else []


def by_all_labels(o: Obj) -> list[str]:
    return [f"{k}={v}" for k, v in o["metadata"]["labels"].items()]


def names(objs: list[Obj]) -> set[str]:
    return {o["metadata"]["name"] for o in objs}


@pytest.mark.parametrize(
    ("o", "expected"),
    [(obj("a", "ns1"), ("ns1", "a")), (obj("node-1", ""), ("", "node-1"))],
)
def test_key_of(o: Obj, expected: tuple[str, str]) -> None:
    assert key_of(o) == expected


def test_upsert_get_remove() -> None:
    store = Store()
    first, second = obj("a", v="1"), obj("a", v="2")
    assert store.upsert(first) is None
    assert store.get("default", "a") is first
    assert store.upsert(second) is first
    assert store.get("default", "a") is second
    assert len(store) == 1
    assert store.list_keys() == [("default", "a")]
    assert list(store) == [second]
    assert store.remove("default", "a") is second
    assert store.get("default", "a") is None
    assert store.remove("default", "a") is None
    assert len(store) == 0


def test_same_name_in_two_namespaces() -> None:
    store = Store()
    store.upsert(obj("a", "x"))
    store.upsert(obj("a", "y"))
    assert len(store) == 2
    store.remove("x", "a")
    assert store.get("y", "a") is not None


def test_index_follows_changes() -> None:
    store = Store({"team": by_team})
    store.upsert(obj("p1", team="red"))
    store.upsert(obj("p2", team="red"))
    store.upsert(obj("p3", team="blue"))
    assert names(store.by_index("team", "red")) == {"p1", "p2"}
    assert sorted(store.index_values("team")) == ["blue", "red"]

    store.upsert(obj("p1", team="blue"))  # moved
    assert names(store.by_index("team", "red")) == {"p2"}
    assert names(store.by_index("team", "blue")) == {"p1", "p3"}

    assert store.has_index("team", "red") and not store.has_index("team", "green")
    store.upsert(obj("p2"))  # no longer indexed at all
    assert store.by_index("team", "red") == []
    assert not store.has_index("team", "red")
    assert sorted(store.index_values("team")) == ["blue"]  # no stale value left

    store.remove("default", "p1")
    store.remove("default", "p3")
    assert store.by_index("team", "blue") == []
    assert store.index_values("team") == []
    assert store._indexes == {"team": {}}  # nothing stale inside either


def test_index_with_several_values_per_object() -> None:
    store = Store({"labels": by_all_labels})
    store.upsert(obj("p1", app="web", tier="front"))
    store.upsert(obj("p2", app="web"))
    assert sorted(store.index_values("labels")) == ["app=web", "tier=front"]
    store.upsert(obj("p1", app="db"))
    assert sorted(store.index_values("labels")) == ["app=db", "app=web"]
    assert names(store.by_index("labels", "app=web")) == {"p2"}
    store.remove("default", "p2")
    assert store.index_values("labels") == ["app=db"]


def test_by_index_returns_current_object() -> None:
    store = Store({"team": by_team})
    store.upsert(obj("p1", team="red", v="1"))
    newer = obj("p1", team="red", v="2")
    store.upsert(newer)
    assert store.by_index("team", "red") == [newer]


def test_unknown_value_is_empty_unknown_index_raises() -> None:
    store = Store({"team": by_team})
    assert store.by_index("team", "nope") == []
    with pytest.raises(KeyError):
        store.by_index("missing", "x")


def test_add_indexer_on_non_empty_store() -> None:
    store = Store()
    store.upsert(obj("p1", team="red"))
    store.upsert(obj("p2", team="blue"))
    store.upsert(obj("p3"))
    store.add_indexer("team", by_team)
    assert names(store.by_index("team", "red")) == {"p1"}
    assert sorted(store.index_values("team")) == ["blue", "red"]
    # and it is maintained from then on
    store.upsert(obj("p3", team="red"))
    store.remove("default", "p2")
    assert names(store.by_index("team", "red")) == {"p1", "p3"}
    assert store.index_values("team") == ["red"]


def test_two_indexes_are_independent() -> None:
    store = Store({"team": by_team, "labels": by_all_labels})
    store.upsert(obj("p1", team="red", app="web"))
    store.remove("default", "p1")
    assert store.index_values("team") == []
    assert store.index_values("labels") == []


def test_a_write_computes_the_index_of_the_new_version_only() -> None:
    seen: list[str] = []

    def counting(o: Obj) -> list[str]:
        seen.append(o["metadata"]["labels"].get("v", ""))
        return by_team(o)

    store = Store({"team": counting})
    store.upsert(obj("p1", team="red", v="1"))
    store.upsert(obj("p1", team="red", v="2"))  # a status change, say: same values
    store.upsert(obj("p1", team="blue", v="3"))
    store.remove("default", "p1")
    assert seen == ["1", "2", "3"]
    assert store._indexes == {"team": {}} and store._indexed == {}


def test_an_object_changed_after_it_was_stored_leaves_no_stale_entry() -> None:
    store = Store({"team": by_team, "labels": by_all_labels})
    stored = obj("p1", team="red", app="web")
    store.upsert(stored)
    stored["metadata"]["labels"] = {"team": "blue"}  # nobody should; if somebody does
    store.upsert(obj("p1", team="green"))
    assert store.index_values("team") == ["green"]
    assert store.index_values("labels") == ["team=green"]
    store.remove("default", "p1")
    assert store._indexes == {"team": {}, "labels": {}}


def test_adding_an_indexer_keeps_the_others() -> None:
    store = Store({"labels": by_all_labels})
    store.upsert(obj("p1", team="red"))
    store.add_indexer("team", by_team)
    store.upsert(obj("p1", team="blue"))
    assert store.index_values("labels") == ["team=blue"]
    assert store.index_values("team") == ["blue"]
    store.remove("default", "p1")
    assert store._indexes == {"labels": {}, "team": {}} and store._indexed == {}
