"""A new kind is one module: a toy syncer registered with --extra-kinds syncs end to end.

See docs/architecture.md, "How to add a kind". The toy kind (tests/integration/toy_kind.py)
copies tenant PodTemplates to every edge cluster.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from syncer.core import markers

from .kube_helpers import EDGES, apply, edge_ns, items, namespace, unique
from .sandbox_fixture import SandboxHandle
from .syncer_fixture import SyncerProcess, wait_for

TOY = "tests.integration.toy_kind:PodTemplateSyncer"


@pytest.fixture
def toy_syncer(sandbox: SandboxHandle, syncer: SyncerProcess) -> Iterator[SyncerProcess]:
    """The session's syncer, restarted with the toy kind registered (and back after)."""
    syncer.stop()
    toy = SyncerProcess(sandbox, name="syncer-toy",
                        extra_args=("--drift-scan-interval=10s", f"--extra-kinds={TOY}"))
    try:
        yield toy.start()
    finally:
        toy.stop()
        syncer.start()


def template(ns: str, name: str, image: str) -> dict[str, object]:
    return {"apiVersion": "v1", "kind": "PodTemplate",
            "metadata": {"name": name, "namespace": ns, "labels": {"toy": "yes"}},
            "template": {"metadata": {"labels": {"app": name}},
                         "spec": {"containers": [{"name": "main", "image": image}]}}}


def copies(sandbox: SandboxHandle, ens: str) -> dict[str, list[dict[str, object]]]:
    return {e: items(sandbox[e], "podtemplates", "-n", ens) for e in EDGES}


def test_a_kind_registered_from_outside_syncs_end_to_end(sandbox: SandboxHandle,
                                                         toy_syncer: SyncerProcess) -> None:
    tenant, ns = sandbox["tenant-a"], unique("toy")
    ens = edge_ns(sandbox, "tenant-a", ns)
    apply(tenant, namespace(ns), template(ns, "tpl", "registry.local/app:1"))

    def images() -> dict[str, list[str]]:
        return {e: [t["template"]["spec"]["containers"][0]["image"]  # type: ignore[index]
                    for t in found] for e, found in copies(sandbox, ens).items()}
    wait_for(lambda: all(v == ["registry.local/app:1"] for v in images().values()), 60,
             "the PodTemplate copied to every edge cluster")
    for found in copies(sandbox, ens).values():
        assert markers.is_managed(found[0], "tenant-a")  # type: ignore[arg-type]
        assert markers.tenant_ref(found[0])[:2] == (ns, "tpl")  # type: ignore[arg-type]
    apply(tenant, template(ns, "tpl", "registry.local/app:2"))
    wait_for(lambda: all(v == ["registry.local/app:2"] for v in images().values()), 60,
             "the edit reaching every copy")
    tenant.kubectl("delete", "podtemplate", "tpl", "-n", ns)
    wait_for(lambda: not any(copies(sandbox, ens).values()), 60, "every copy removed")
    tenant.kubectl("delete", "namespace", ns, "--wait=false")
    wait_for(lambda: not any(items(sandbox[e], "namespaces", "--field-selector",
                                   f"metadata.name={ens}") for e in EDGES), 120,
             "the edge namespaces removed with the tenant's")
