"""The network edge of fusionvc: REST calls, informers and their caches, as plain dicts.

- ``apis``: ``ResourceType``, the kinds fusionvc reads or writes and their REST paths.
- ``client``: ``KubeClient``, JSON REST calls with a timeout each.
- ``informer``, ``store``: list+watch into an indexed in-memory cache.
- ``compact``: cached objects compacted in place (shared subtrees, interned strings).

``Obj`` is the one type of a Kubernetes object everywhere in the syncer: its JSON
as a dict (model classes cost several times the memory of the JSON they hold).
``json_copy`` is the deep copy of such JSON that a translate function changes.
"""

from typing import Any, TypeVar

import orjson

Obj = dict[str, Any]
J = TypeVar("J")


def json_copy(value: J) -> J:
    """A deep copy of JSON data (dicts, lists, strings, numbers, booleans, None): through
    orjson, about a tenth of copy.deepcopy's CPU on a pod spec, which the syncer copies
    for every edge copy it writes."""
    copied: J = orjson.loads(orjson.dumps(value))
    return copied


__all__ = ["Obj", "json_copy"]
