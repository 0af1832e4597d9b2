"""Registry credentials of a tenant: its ``spec.registries`` resolved against the
management cluster's Secrets (pure; Management calls it, the kind
``syncer/kinds/registry_credentials.py`` writes the result to the edges).

A credentials Secret lives in the syncer's namespace of the management cluster,
where tenants have no access. Two types are read:

- ``kubernetes.io/dockerconfigjson``: its ``auths`` entry for the server;
- ``kubernetes.io/basic-auth`` (or any Secret with ``username`` and ``password``).

The result maps each server to one docker ``auths`` entry. Problems are reported
by Secret and server name only: no value of a Secret ever reaches a message.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import orjson

from scheduler.images import image_host, registry_host
from syncer.fleet.specs import RegistrySpec
from syncer.kube import Obj

# The work key kind of the registry-credentials copies (one key per tenant).
REGISTRY_CREDENTIALS_KIND = "RegistryCredentials"
# The edge Secret holding them, in each edge namespace whose pods pull from them.
PULL_SECRET = "fusionvc-registry-credentials"


@dataclass(frozen=True)
class RegistryAuths:
    """Resolved credentials, server -> docker ``auths`` entry; never printed."""

    auths: Mapping[str, Mapping[str, str]] = field(
        default_factory=lambda: MappingProxyType({}), repr=False)
    problems: tuple[str, ...] = ()

    def __repr__(self) -> str:
        return f"RegistryAuths(servers={sorted(self.auths)}, problems={list(self.problems)})"


def normalize_server(server: str) -> str:
    """The registry host as image references spell it (lower case, Docker Hub as docker.io)."""
    host = server.lower().removeprefix("https://").removeprefix("http://").split("/", 1)[0]
    return registry_host(host)


image_registry = image_host  # Docker's rule, owned by scheduler.images


def pod_images(pod: Obj) -> Iterable[str]:
    spec = pod.get("spec") or {}
    for group in ("initContainers", "containers", "ephemeralContainers"):
        for container in spec.get(group) or []:
            image = container.get("image")
            if isinstance(image, str) and image:
                yield image
    for volume in spec.get("volumes") or []:  # image volumes (OCI artifacts) pull too
        reference = (volume.get("image") or {}).get("reference")
        if isinstance(reference, str) and reference:
            yield reference


def images_registries(images: Iterable[str], servers: Iterable[str]) -> set[str]:
    """The servers among ``servers`` that some of ``images`` are pulled from."""
    wanted = set(servers)
    return {host for host in map(image_registry, images) if host in wanted}


def pull_secret_names(resolved: RegistryAuths, pod: Obj) -> tuple[str, ...]:
    """The fusionvc pull Secrets the edge copy of ``pod`` names (pure)."""
    auths = resolved.auths
    return (PULL_SECRET,) if auths and images_registries(pod_images(pod), auths) else ()


def _decode(secret: Obj, key: str) -> str | None:
    value = (secret.get("data") or {}).get(key)
    if not isinstance(value, str):
        return None
    try:
        return base64.b64decode(value, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None


def _docker_entry(secret: Obj, server: str) -> Mapping[str, str] | None:
    raw = _decode(secret, ".dockerconfigjson")
    if raw is None:
        return None
    try:
        auths = orjson.loads(raw).get("auths") or {}
    except (orjson.JSONDecodeError, AttributeError):
        return None
    for name, entry in auths.items() if isinstance(auths, dict) else ():
        if normalize_server(str(name)) == server and isinstance(entry, dict):
            return {k: str(v) for k, v in entry.items() if k in ("auth", "username", "password")}
    return None


def _basic_entry(secret: Obj) -> Mapping[str, str] | None:
    user, password = _decode(secret, "username"), _decode(secret, "password")
    if user is None or password is None:
        return None
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"username": user, "password": password, "auth": token}


def resolve_registry_auths(registries: Iterable[RegistrySpec],
                           get_secret: Callable[[str], Obj | None]) -> RegistryAuths:
    """Each registry's docker auths entry from its credentials Secret (pure)."""
    auths: dict[str, Mapping[str, str]] = {}
    problems: list[str] = []
    for registry in registries:
        server = normalize_server(registry.server)
        secret = get_secret(registry.credentials_secret)
        if secret is None:
            problems.append(f'registry {server}: Secret "{registry.credentials_secret}" '
                            "not found")
            continue
        entry = (_docker_entry(secret, server)
                 if secret.get("type") == "kubernetes.io/dockerconfigjson"
                 else _basic_entry(secret))
        if not entry:
            problems.append(f'registry {server}: Secret "{registry.credentials_secret}" has '
                            "no credentials for it (a .dockerconfigjson entry for the server, "
                            "or username and password)")
            continue
        auths[server] = MappingProxyType(dict(entry))
    return RegistryAuths(MappingProxyType(auths), tuple(problems))


def registry_condition(registries: tuple[RegistrySpec, ...],
                       resolved: RegistryAuths) -> tuple[str, str, str, str]:
    """The Tenant's ``RegistryCredentials`` condition (type, status, reason, message)."""
    if not registries:
        return ("RegistryCredentials", "True", "NoneConfigured", "no registries configured")
    if resolved.problems:
        return ("RegistryCredentials", "False", "CredentialsMissing",
                "; ".join(resolved.problems))
    return ("RegistryCredentials", "True", "Resolved",
            f"credentials for {len(resolved.auths)} registries: "
            + ", ".join(sorted(resolved.auths)))
