"""Opening a KubeClient from a kubeconfig held in a Secret, with errors a person can act on."""

from __future__ import annotations

import base64
import binascii

import yaml
from kubernetes_asyncio.client import ApiClient, Configuration
from kubernetes_asyncio.config import load_kube_config_from_dict
from kubernetes_asyncio.config.config_exception import ConfigException

from syncer.fleet.specs import SecretKeyRef
from syncer.kube import Obj
from syncer.kube.client import KubeClient, KubeError
from syncer.kube.limiter import WriteLimiter

PROBE_TIMEOUT = 10.0
POOL_SIZE = 64


class ConnectError(Exception):
    """Why a cluster could not be reached; ``reason`` is a CamelCase condition reason."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason, self.message = reason, message


def kubeconfig_from_secret(secret: Obj | None, ref: SecretKeyRef, namespace: str) -> Obj:
    """Decodes the kubeconfig the object's kubeconfigSecretRef points at."""
    name, key = ref.name, ref.key
    if ref.namespace not in ("", namespace):
        raise ConnectError("KubeconfigInvalid", f"kubeconfigSecretRef.namespace must be "
                           f"{namespace} (fusionvc reads Secrets only there)")
    if secret is None:
        raise ConnectError("KubeconfigMissing", f"Secret {namespace}/{name} not found")
    raw = (secret.get("data") or {}).get(key)
    if raw is None:
        raise ConnectError("KubeconfigInvalid", f"Secret {namespace}/{name} has no key {key!r}")
    try:
        doc = yaml.safe_load(base64.b64decode(raw))
    except (binascii.Error, ValueError, yaml.YAMLError):
        raise ConnectError("KubeconfigInvalid",
                           f"Secret {namespace}/{name} key {key!r} is not a kubeconfig") from None
    if not isinstance(doc, dict) or not doc.get("clusters"):
        raise ConnectError("KubeconfigInvalid",
                           f"Secret {namespace}/{name} key {key!r} is not a kubeconfig")
    return doc


def _explain(err: KubeError) -> ConnectError:
    text = err.message.lower()
    if err.status == 401:
        return ConnectError("Unauthorized", "the API server refused the credentials "
                            "(expired or unknown client certificate or token)")
    if err.status == 403:
        return ConnectError("Forbidden", f"the credentials lack permission: {err.message}")
    if "certificate" in text or "ssl" in text:
        return ConnectError("CertificateInvalid", f"TLS failed (wrong CA?): {err.message}")
    return ConnectError("Unreachable", f"API server not reachable: {err}")


async def connect(name: str, kubeconfig: Obj, timeout: float,
                  limiter: WriteLimiter | None = None) -> KubeClient:
    """A client whose server answered GET /version; raises ConnectError otherwise. Its
    writes wait for ``limiter`` (shared by the process's tenant and edge clients)."""
    config = Configuration()
    try:
        await load_kube_config_from_dict(kubeconfig, client_configuration=config)
    except (ConfigException, ValueError, KeyError, TypeError, OSError) as err:
        raise ConnectError("KubeconfigInvalid", f"kubeconfig rejected: {err}") from None
    # The default pool (5 per CPU) would queue the workers' requests behind each other.
    config.connection_pool_maxsize = POOL_SIZE
    api = ApiClient(configuration=config)
    client = KubeClient(api, name, timeout, limiter=limiter)
    try:
        await client.request("GET", "/version", timeout=PROBE_TIMEOUT)
    except KubeError as err:
        await client.close()
        raise _explain(err) from None
    return client
