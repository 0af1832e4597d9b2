"""Store: the in-memory cache behind an informer, with secondary indexes.

Objects are kept as dicts keyed by (namespace, name). An index maps a value
computed from each object (say, the tenant it belongs to) to the keys of the
objects that produce it, and is kept up to date on every write.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from syncer.kube import Obj

StoreKey = tuple[str, str]
IndexFunc = Callable[[Obj], Iterable[str]]


def key_of(obj: Obj) -> StoreKey:
    meta = obj["metadata"]
    return meta.get("namespace", ""), meta["name"]


class Store:
    def __init__(self, indexers: dict[str, IndexFunc] | None = None) -> None:
        self._items: dict[StoreKey, Obj] = {}
        self._indexers = dict(indexers or {})
        self._indexes: dict[str, dict[str, set[StoreKey]]] = {n: {} for n in self._indexers}

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[Obj]:
        return iter(list(self._items.values()))

    def get(self, namespace: str, name: str) -> Obj | None:
        return self._items.get((namespace, name))

    def list_keys(self) -> list[StoreKey]:
        return list(self._items)

    def add_indexer(self, name: str, func: IndexFunc) -> None:
        self._indexers[name] = func
        index: dict[str, set[StoreKey]] = {}
        for key, obj in self._items.items():
            for value in func(obj):
                index.setdefault(value, set()).add(key)
        self._indexes[name] = index

    def by_index(self, index: str, value: str) -> list[Obj]:
        keys = self._indexes[index].get(value, ())
        return [self._items[k] for k in keys if k in self._items]

    def has_index(self, index: str, value: str) -> bool:
        """Whether some object gives ``value`` (by_index without building the list)."""
        return any(k in self._items for k in self._indexes[index].get(value, ()))

    def index_values(self, index: str) -> list[str]:
        return list(self._indexes[index])

    def upsert(self, obj: Obj) -> Obj | None:
        """Stores obj; returns the object it replaced."""
        key = key_of(obj)
        old = self._items.get(key)
        if old is not None:
            self._unindex(key, old)
        self._items[key] = obj
        for name, func in self._indexers.items():
            index = self._indexes[name]
            for value in func(obj):
                index.setdefault(value, set()).add(key)
        return old

    def remove(self, namespace: str, name: str) -> Obj | None:
        key = (namespace, name)
        old = self._items.pop(key, None)
        if old is not None:
            self._unindex(key, old)
        return old

    def _unindex(self, key: StoreKey, obj: Obj) -> None:
        for name, func in self._indexers.items():
            index = self._indexes[name]
            for value in func(obj):
                keys = index.get(value)
                if keys is not None:
                    keys.discard(key)
                    if not keys:
                        del index[value]
