"""Compact form of cached objects: fewer bytes per pod in the informer stores.

fusionvc caches every pod it syncs twice (tenant and edge copy), and the pods
of one Deployment repeat the same subtrees: the spec, the tolerations, the
security contexts, the label sets, often even the conditions. ``Compactor``
hash-conses them, in place: every dict or list below the top level is replaced
by one shared instance per distinct content, and short strings are interned.
The parts that differ between any two objects (metadata, status) are not
remembered, only their insides, and ConfigMap/Secret payloads are left alone.
A pod fresh from the parser costs about 7 KiB; compacted about 2.3 KiB.

Hash-consing walks every value in Python. Most objects arrive with a similar one at
hand, though: a watch event's cached version, a list neighbour from the same
ReplicaSet. ``compact(obj, like)`` compares each part with ``like``'s in C first and
walks only the parts that differ (a pod's create, bind and Running events: 0.75-0.78x
the CPU of walking them all; a list after a restart: 0.8x).

The price is a rule the whole syncer keeps already: **cached objects are
read-only**. Translate functions copy before they change anything. With
``FUSIONVC_CHECK_SHARED=1`` (set by the test fixtures) every reuse of a shared
subtree first checks that its content is still what it was, and logs an error
with the changed subtree if some code broke the rule.
"""

from __future__ import annotations

import os
import sys
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

import orjson
import structlog

from syncer.kube import Obj

log = structlog.get_logger(__name__)
INTERN_MAX = 64  # longer strings (uids, messages, data) are rarely shared
MEMO_SIZE = 32_768  # distinct subtrees remembered; beyond it the least used are forgotten
DROPPED_ANNOTATIONS = ("kubectl.kubernetes.io/last-applied-configuration",)
UNIQUE = frozenset(("metadata", "status"))  # top-level parts that differ between any two objects
# ConfigMap and Secret payloads: large, rarely equal, and a Secret's values must not outlive
# the Secret in a memo. Kept as parsed.
PAYLOADS = frozenset(("data", "binaryData", "stringData"))

_intern = sys.intern
_NOTHING: Obj = {}


class Compactor:
    """Interns short strings and shares equal subtrees between the objects it compacts."""

    def __init__(self, memo_size: int = MEMO_SIZE, check: bool | None = None) -> None:
        # Keys hold ids of already shared children; the memo keeps those children alive
        # through their parents, so an id in a live key never names a dead object.
        self._memo = _Memo(memo_size)
        self.check = os.environ.get("FUSIONVC_CHECK_SHARED") == "1" if check is None else check
        self.violations = 0

    def __len__(self) -> int:
        return len(self._memo)

    def compact(self, obj: Obj, like: Obj | None = None, same_object: bool = False,
                typed: bool = False) -> Obj:
        """The object without the fields fusionvc never reads, its subtrees shared.

        ``like`` is an object compacted already that is probably similar: the cached
        version of the same object, or its neighbour in a list (pods of one ReplicaSet
        list one after the other). A part of ``obj`` equal to the same part of ``like``
        becomes that part, compared in C instead of walked in Python; only the parts that
        differ are walked and shared.

        Equal means equal as JSON: Python's ``1 == 1.0 == True`` is checked against the
        serialized bytes, so a free-form field of one object never takes another's value.
        With ``same_object`` (``like`` is the cached version of ``obj``) that check is
        skipped: a field keeps its type from one version to the next (a value changing
        only between 1, 1.0 and true would keep the cached one), and the check would
        cost a third of a watch event's compaction. With ``typed`` (``like`` is of the
        same kind, one of Kubernetes' own, ``typed_kind``) it is skipped too: the API
        server's schema gives each field one JSON type, so values equal in Python are
        equal as JSON (a restart's list of 10,000 pods: 4% of the syncer's CPU to ready).
        """
        _drop_unread(obj)
        if like is None:
            like = _NOTHING
        strict = not (same_object or typed)
        # In place: a second copy of every object would be garbage at once, and garbage
        # interleaved with long-lived objects keeps the allocator's arenas from emptying.
        # The top level and its unique parts (name, uid, IPs, times) are never remembered.
        for k, v in obj.items():
            was = like.get(k)
            if k in UNIQUE and type(v) is dict:
                if type(was) is dict:
                    self._share_children_like(v, was, strict)
                else:
                    self._share_children(v)
            elif k not in PAYLOADS:
                obj[k] = self._share(v) if was is None else self._share_like(v, was, strict)
        return obj

    # The walk below is the syncer's hottest code while it lists after a start (a third of
    # its CPU to ready at 10,000 pods): scalars are handled inline rather than by a call
    # per value, and the memo is an OrderedDict, whose lookups run in C.

    def _share_children(self, value: dict[str, Any] | list[Any]) -> None:
        share = self._share
        entries: Iterable[tuple[Any, Any]] = (
            value.items() if isinstance(value, dict) else enumerate(value))
        for k, v in entries:  # values replaced in place: the dict's size never changes
            t = type(v)
            if t is str:
                if len(v) <= INTERN_MAX:
                    value[k] = _intern(v)
            elif t is dict or t is list:
                value[k] = share(v)

    def _share(self, value: Any) -> Any:
        t = type(value)
        if t is str:
            return _intern(value) if len(value) <= INTERN_MAX else value
        if t is not dict and t is not list:
            return value
        self._share_children(value)
        return self._remembered(value)

    def _share_like(self, value: Any, like: Any, strict: bool) -> Any:
        """``_share``, reusing ``like`` (a shared value at the same place of a similar
        object) or, when it differs, its children for the children of ``value``."""
        t = type(value)
        if t is str:
            if like == value:
                return like
            return _intern(value) if len(value) <= INTERN_MAX else value
        if t is not dict and t is not list:
            return value
        if type(like) is t and like == value and (not strict or _same_json(like, value)):
            return like
        return self._share_unlike(value, like, strict)

    def _share_unlike(self, value: dict[str, Any] | list[Any], like: Any,
                      strict: bool) -> Any:
        """A container that is not ``like``'s equal, shared: its children like like's."""
        if type(like) is type(value):
            self._share_children_like(value, like, strict)
        else:
            self._share_children(value)
        return self._remembered(value)

    # Comparisons inline, not a call per child: a watch event's object is mostly equal
    # to its cached version, and this loop runs for every child of its metadata and status.
    def _share_children_like(self, value: dict[str, Any] | list[Any], like: Any,
                             strict: bool) -> None:
        unlike = self._share_unlike
        if isinstance(value, dict):
            get = like.get
            for k, v in value.items():
                t = type(v)
                if t is str:
                    was = get(k)
                    if was == v:
                        value[k] = was
                    elif len(v) <= INTERN_MAX:
                        value[k] = _intern(v)
                elif t is dict or t is list:
                    was = get(k)
                    if was is None:
                        value[k] = self._share(v)
                    elif type(was) is t and was == v and (not strict or _same_json(was, v)):
                        value[k] = was
                    else:
                        value[k] = unlike(v, was, strict)
            return
        n = len(like) if type(like) is list else 0
        for i, v in enumerate(value):
            t = type(v)
            if t is str:
                if len(v) <= INTERN_MAX:
                    value[i] = _intern(v)
            elif t is dict or t is list:
                value[i] = self._share_like(v, like[i], strict) if i < n else self._share(v)

    def _remembered(self, value: dict[str, Any] | list[Any]) -> Any:
        """The memo's instance of this content (its children shared already), or value."""
        key = _identity(value)
        shared = self._memo.get(key)
        if shared is None or (self.check and not self._unchanged(key, shared)):
            self._memo.put(key, value)
            return value
        return shared

    def _unchanged(self, key: tuple[Any, ...], shared: Any) -> bool:
        if key == _identity(shared):
            return True
        self.violations += 1
        log.error("a shared cached subtree was changed in place; cached objects are read-only",
                  now=repr(shared)[:300])
        return False


class _Memo:
    """Least recently used memo of shared subtrees, bounded to ``size`` entries."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict[tuple[Any, ...], Any] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: tuple[Any, ...]) -> Any:
        found = self._entries.get(key)
        if found is not None:
            self._entries.move_to_end(key)
        return found

    def put(self, key: tuple[Any, ...], value: Any) -> None:
        self._entries[key] = value
        self._entries.move_to_end(key)
        if len(self._entries) > self.size:
            self._entries.popitem(last=False)


# Groups of Kubernetes' own kinds: each field has one type in the API server's schema.
# A custom resource may keep unknown fields (x-kubernetes-preserve-unknown-fields), where
# 1, 1.0 and true can meet at the same place.
TYPED_GROUPS = frozenset((
    "", "apps", "batch", "autoscaling", "policy", "coordination.k8s.io", "discovery.k8s.io",
    "events.k8s.io", "networking.k8s.io", "node.k8s.io", "rbac.authorization.k8s.io",
    "scheduling.k8s.io", "storage.k8s.io", "apiregistration.k8s.io"))


def typed_kind(group: str) -> bool:
    """A kind of this API group is one of Kubernetes' own (not a custom resource)."""
    return group in TYPED_GROUPS


def _same_json(a: Any, b: Any) -> bool:
    """Equal as JSON, for two values Python finds equal: 1, 1.0 and true differ."""
    try:
        return bool(orjson.dumps(a) == orjson.dumps(b))
    except (TypeError, orjson.JSONEncodeError):
        return False


def _drop_unread(obj: Obj) -> None:
    """Removes in place what fusionvc never reads and a pod would carry in every copy."""
    meta = obj.get("metadata")
    if meta is not None:
        meta.pop("managedFields", None)
        annotations = meta.get("annotations")
        if annotations:
            for name in DROPPED_ANNOTATIONS:
                annotations.pop(name, None)


def _identity(value: dict[str, Any] | list[Any]) -> tuple[Any, ...]:
    """The memo key of a container whose children are shared already: whether it is a
    dict, then its keys and values alternating (a list: its items). Strings as they are,
    other scalars with their type (True, 1 and 1.0 are equal in Python), containers by
    the id of their shared instance."""
    if type(value) is dict:
        out: list[Any] = [True]
        for k, v in value.items():
            out.append(k)
            t = type(v)
            out.append(v if t is str else id(v) if t is dict or t is list else (t, v))
        return tuple(out)
    out = [False]
    for v in value:
        t = type(v)
        out.append(v if t is str else id(v) if t is dict or t is list else (t, v))
    return tuple(out)


DEFAULT = Compactor()
