"""Tenant-facing CRDs: every CRD in ``config/crd/tenant/`` installed into each tenant API server.

Run when fusionvc connects to a tenant, before the tenant's informers start (they watch
these kinds). Create when missing; replace when the manifest changed (its hash is kept in
an annotation, so an unchanged CRD costs one GET and no write); then wait until the
API server reports it Established. Failures are logged and retried at the tenant's next
reconcile; they never stop the connection. New edge features add a YAML file to the
folder and nothing here.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import weakref
from pathlib import Path

import orjson
import structlog
import yaml

from syncer.kube import Obj
from syncer.kube.apis import CRDS
from syncer.kube.client import KubeClient, KubeError

log = structlog.get_logger(__name__)
HASH_ANNOTATION = "fusionvc.io/manifest-sha256"
ESTABLISH_TIMEOUT = 30.0
DIR_ENV = "FUSIONVC_TENANT_CRD_DIR"  # the image sets it; a checkout uses config/crd/tenant


def default_dir() -> Path:
    configured = os.environ.get(DIR_ENV)
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[2] / "config" / "crd" / "tenant"


def load_crds(directory: Path) -> list[Obj]:
    """The CRDs of every *.yaml file in the folder, each annotated with its manifest hash."""
    crds: list[Obj] = []
    for path in sorted(directory.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if not isinstance(doc, dict) or doc.get("kind") != "CustomResourceDefinition":
                continue
            digest = hashlib.sha256(orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)).hexdigest()
            meta = doc.setdefault("metadata", {})
            meta.setdefault("annotations", {})[HASH_ANNOTATION] = digest
            crds.append(doc)
    return crds


def _established(crd: Obj) -> bool:
    return any(c.get("type") == "Established" and c.get("status") == "True"
               for c in (crd.get("status") or {}).get("conditions") or [])


async def install(client: KubeClient, crds: list[Obj]) -> None:
    """Creates or updates every CRD and waits until each is Established; raises KubeError."""
    for crd in crds:
        name = crd["metadata"]["name"]
        want = crd["metadata"]["annotations"][HASH_ANNOTATION]
        try:
            have: Obj | None = await client.get(CRDS, name)
        except KubeError as err:
            if not err.not_found:
                raise
            have = None
        if have is None:
            await client.create(CRDS, crd)
            log.info("tenant CRD created", cluster=client.name, crd=name)
        elif (have["metadata"].get("annotations") or {}).get(HASH_ANNOTATION) != want:
            body = {**crd, "metadata": {**crd["metadata"],
                                        "resourceVersion": have["metadata"]["resourceVersion"]}}
            await client.replace(CRDS, body)
            log.info("tenant CRD updated", cluster=client.name, crd=name)
        elif _established(have):
            continue
        await _wait_established(client, name)


async def _wait_established(client: KubeClient, name: str) -> None:
    async with asyncio.timeout(ESTABLISH_TIMEOUT):
        while True:
            if _established(await client.get(CRDS, name)):
                return
            await asyncio.sleep(0.2)


class TenantCRDs:
    """Installs the folder's CRDs once per tenant connection (retried until it succeeds)."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory or default_dir()
        self.crds = load_crds(self.directory) if self.directory.is_dir() else []
        if not self.crds:  # tenant kinds would never sync: say where they were looked for
            log.error("no tenant CRDs found; set FUSIONVC_TENANT_CRD_DIR",
                      directory=str(self.directory))
        self._done: weakref.WeakSet[KubeClient] = weakref.WeakSet()

    async def ensure(self, client: KubeClient) -> bool:
        """True once installed on this client's cluster; logs and returns False on failure."""
        if client in self._done or not self.crds:
            return True
        try:
            await install(client, self.crds)
        except (KubeError, TimeoutError) as err:
            log.warning("could not install tenant CRDs; will retry", cluster=client.name,
                        error=str(err) or type(err).__name__)
            return False
        self._done.add(client)
        return True
