"""Which syncers run: the built-in kinds, plus any named by ``--extra-kinds``.

An extra kind is a ``ResourceSyncer`` subclass outside this package, named as
``module:Class``; it is imported at start-up, and a reference that does not
import, or names something that is not a syncer, stops the syncer with a
message naming the setting.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence

from syncer.core.syncer import ResourceSyncer
from syncer.kinds import BUILTIN_SYNCERS
from syncer.ops.settings import SettingsError

SETTING = "--extra-kinds"


def load_syncer(ref: str) -> type[ResourceSyncer]:
    """The class ``module:Class`` names; SettingsError when it is not a ResourceSyncer."""
    module_name, _, attr = ref.partition(":")
    try:
        found = getattr(importlib.import_module(module_name), attr)
    except ImportError as err:
        raise SettingsError(f"{SETTING}: cannot import {module_name!r} ({err})") from None
    except AttributeError:
        raise SettingsError(f"{SETTING}: module {module_name!r} has no {attr!r}") from None
    if not (isinstance(found, type) and issubclass(found, ResourceSyncer)):
        raise SettingsError(f"{SETTING}: {ref!r} is not a ResourceSyncer subclass")
    return found


def syncer_classes(extra: Sequence[str] = ()) -> tuple[type[ResourceSyncer], ...]:
    """The built-in syncers followed by the extra ones, in the order given."""
    return (*BUILTIN_SYNCERS, *(load_syncer(ref) for ref in extra))
