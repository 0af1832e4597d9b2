"""Container image references as the scheduler compares them, and the images a node reports.

Owns the normalisation (Docker's rules): a first path component with a '.' or
':' or equal to 'localhost' is the registry host, else Docker Hub
(``docker.io``, ``library/`` for single names); no tag and no digest means
``:latest``. ``nginx``, ``library/nginx:latest`` and ``docker.io/library/nginx``
are then one image, as a kubelet's ``status.images`` names it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

DOCKER_HUB = "docker.io"
DOCKER_HUB_ALIASES = frozenset({"index.docker.io", "registry-1.docker.io",
                                 "registry.hub.docker.com"})


def registry_host(host: str) -> str:
    """A registry host as image references name it (lower case; Docker Hub as docker.io)."""
    host = host.lower()
    return DOCKER_HUB if host in DOCKER_HUB_ALIASES else host


def image_host(ref: str) -> str:
    """The registry host of an image reference (lower case; Docker Hub as docker.io)."""
    first, sep, _rest = ref.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        return registry_host(first)
    return DOCKER_HUB


def normalize_image(ref: str) -> str:
    name, at, digest = ref.partition("@")
    host = image_host(name)
    first, sep, rest = name.partition("/")
    path = rest if sep and ("." in first or ":" in first or first == "localhost") else name
    if host == DOCKER_HUB and "/" not in path:
        path = f"library/{path}"
    if at:
        return f"{host}/{path}@{digest}"
    if ":" not in path.rsplit("/", 1)[-1]:
        path += ":latest"
    return f"{host}/{path}"


def node_images(status: Mapping[str, Any]) -> Mapping[str, int]:
    """Normalised image name -> size in bytes, from a node's ``status.images``."""
    found: dict[str, int] = {}
    for entry in status.get("images") or ():
        try:
            size = int(entry.get("sizeBytes") or 0)
        except (TypeError, ValueError):
            size = 0
        for name in entry.get("names") or ():
            if isinstance(name, str) and name:
                found[normalize_image(name)] = size
    return found


def pod_images(spec: Mapping[str, Any]) -> tuple[str, ...]:
    """The normalised images of a pod's init containers and containers, each once."""
    refs: Iterable[Any] = (c.get("image") for group in ("initContainers", "containers")
                           for c in spec.get(group) or ())
    return tuple(dict.fromkeys(normalize_image(r) for r in refs if isinstance(r, str) and r))
