"""Imports kubernetes-asyncio's packages lazily: the syncer needs three of its modules.

fusionvc uses kubernetes-asyncio for its kubeconfig loaders and ``ApiClient`` (TLS
settings, tokens, the aiohttp session); it speaks the API with its own client. But the
package's ``__init__`` files import every generated API class and model, so one
``from kubernetes_asyncio.client import ApiClient`` cost 0.36 s of CPU, half of the
syncer's start-up imports, paid again by every restart before it lists anything.

``install()`` registers the packages ``kubernetes_asyncio``, ``kubernetes_asyncio.client``,
``...client.api`` and ``...client.models`` as empty modules with their real ``__path__``:
submodules (``client.api_client``, ``config.kube_config``) import as usual, and the
names the loaders take from the package (``ApiClient``, ``Configuration``) are set on
it. Anything else asked of one of these packages (``client.CoreV1Api``, a model when
``ApiClient`` deserializes) runs the package's real ``__init__`` into the module at
that moment, so every other use of kubernetes-asyncio still works, only later.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import pkgutil
import sys
import types
from typing import Any

PACKAGES = ("kubernetes_asyncio", "kubernetes_asyncio.client",
            "kubernetes_asyncio.client.api", "kubernetes_asyncio.client.models")
# What kubernetes_asyncio.config's modules and the syncer take from the client package.
CLIENT_NAMES = {"ApiClient": "api_client", "Configuration": "configuration"}


def install() -> None:
    """Once per process, before kubernetes-asyncio is first imported; else nothing."""
    if any(name in sys.modules for name in PACKAGES):
        return
    for name in PACKAGES:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None or spec.submodule_search_locations is None:
            return  # not installed: the import will say so where it is used
        sys.modules[name] = _deferred_package(name, spec)
        parent, _, child = name.rpartition(".")
        if parent:
            setattr(sys.modules[parent], child, sys.modules[name])
    client = sys.modules["kubernetes_asyncio.client"]
    for attr, module in CLIENT_NAMES.items():
        setattr(client, attr, getattr(
            importlib.import_module(f"kubernetes_asyncio.client.{module}"), attr))


def _deferred_package(name: str, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
    module = importlib.util.module_from_spec(spec)  # sets __path__, __spec__, __file__
    loaded = False
    submodules: set[str] = set()

    def __getattr__(attr: str) -> Any:  # the module hook of PEP 562
        nonlocal loaded
        if not submodules:
            submodules.update(m.name for m in pkgutil.iter_modules(module.__path__))
        # `from package import submodule` asks the package first: not a reason to load it.
        if loaded or attr in submodules:
            raise AttributeError(f"module {name!r} has no attribute {attr!r}")
        loaded = True
        del module.__dict__["__getattr__"]
        assert spec.loader is not None
        spec.loader.exec_module(module)  # the real __init__, into this same module
        return getattr(module, attr)

    module.__dict__["__getattr__"] = __getattr__
    return module
