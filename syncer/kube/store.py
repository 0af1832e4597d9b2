"""Store: the in-memory cache behind an informer, with secondary indexes.

Objects are kept as dicts keyed by (namespace, name). An index maps a value
computed from each object (say, the tenant it belongs to) to the keys of the
objects that produce it, and is kept up to date on every write.

The values an object was indexed under are kept with it, so a write computes the
index functions once, for the new version only: the old version's entries are
removed as they were added (whatever became of that object since), and a write
that keeps every value (most watch events: a status change) touches no index.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from syncer.kube import Obj

StoreKey = tuple[str, str]
IndexFunc = Callable[[Obj], Iterable[str]]
Indexed = tuple[tuple[str, ...], ...]  # an object's values, one tuple per indexer in order


def key_of(obj: Obj) -> StoreKey:
    meta = obj["metadata"]
    return meta.get("namespace", ""), meta["name"]


class Store:
    def __init__(self, indexers: dict[str, IndexFunc] | None = None) -> None:
        self._items: dict[StoreKey, Obj] = {}
        self._indexers = dict(indexers or {})
        self._indexes: dict[str, dict[str, set[StoreKey]]] = {n: {} for n in self._indexers}
        self._indexed: dict[StoreKey, Indexed] = {}  # empty while there is no indexer

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[Obj]:
        return iter(list(self._items.values()))

    def get(self, namespace: str, name: str) -> Obj | None:
        return self._items.get((namespace, name))

    def list_keys(self) -> list[StoreKey]:
        return list(self._items)

    def add_indexer(self, name: str, func: IndexFunc) -> None:
        """One more index (or another function for ``name``): every index is built again."""
        self._indexers[name] = func
        self._indexes = {n: {} for n in self._indexers}
        self._indexed = {}
        for key, obj in self._items.items():
            self._index(key, self._values(obj))

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
        self._items[key] = obj
        if self._indexers:
            values = self._values(obj)
            was = self._indexed.get(key)
            if values != was:
                if was is not None:
                    self._unindex(key, was)
                self._index(key, values)
        return old

    def remove(self, namespace: str, name: str) -> Obj | None:
        key = (namespace, name)
        old = self._items.pop(key, None)
        was = self._indexed.pop(key, None)
        if was is not None:
            self._unindex(key, was)
        return old

    def _values(self, obj: Obj) -> Indexed:
        return tuple([tuple(func(obj)) for func in self._indexers.values()])

    def _index(self, key: StoreKey, values: Indexed) -> None:
        self._indexed[key] = values
        for index, found in zip(self._indexes.values(), values):  # noqa: B905 (one tuple per indexer)
            for value in found:
                index.setdefault(value, set()).add(key)

    def _unindex(self, key: StoreKey, was: Indexed) -> None:
        for index, found in zip(self._indexes.values(), was):  # noqa: B905 (one tuple per indexer)
            for value in found:
                keys = index.get(value)
                if keys is not None:
                    keys.discard(key)
                    if not keys:
                        del index[value]
