"""The registry of plugins by name: what a Profile is built from.

Owns name -> factory; a factory takes no argument and returns a plugin
(the plugin classes themselves are factories).
"""

from __future__ import annotations

from collections.abc import Callable

from .framework import Plugin

PluginFactory = Callable[[], Plugin]


class Registry:
    def __init__(self) -> None:
        self._factories: dict[str, PluginFactory] = {}

    def register(self, name: str, factory: PluginFactory) -> None:
        if name in self._factories:
            raise ValueError(f"plugin {name!r} is already registered")
        self._factories[name] = factory

    def create(self, name: str) -> Plugin:
        factory = self._factories.get(name)
        if factory is None:
            known = ", ".join(sorted(self._factories))
            raise KeyError(f"no plugin named {name!r} (known: {known})")
        plugin = factory()
        if plugin.name != name:
            raise ValueError(f"plugin registered as {name!r} calls itself {plugin.name!r}")
        return plugin

    def names(self) -> list[str]:
        return sorted(self._factories)
