"""The network edge of fusionvc: REST calls, informers and their caches, as plain dicts.

- ``apis``: ``ResourceType``, the kinds fusionvc reads or writes and their REST paths.
- ``client``: ``KubeClient``, JSON REST calls with a timeout each.
- ``informer``, ``store``: list+watch into an indexed in-memory cache.
- ``compact``: cached objects compacted in place (shared subtrees, interned strings).

``Obj`` is the one type of a Kubernetes object everywhere in the syncer: its JSON
as a dict (model classes cost several times the memory of the JSON they hold).
"""

from typing import Any

Obj = dict[str, Any]

__all__ = ["Obj"]
