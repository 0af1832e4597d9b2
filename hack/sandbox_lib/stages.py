"""kwok's stages as the sandbox runs them: kwok's own defaults, with one kubelet behaviour added.

The pod-ready stage also reports each container's ``resources`` in its status, as a
kubelet with in-place resize does. The API servers use that field to tell whether
a pod's node supports resize ("Pod running on node without support for resize"
otherwise), so without it no pod on a kwok node could be resized.
"""

from __future__ import annotations

from pathlib import Path

from .processes import SandboxError

_CONTAINER = (
    "      {{ range .spec.containers }}\n"
    "      - image: {{ .image | Quote }}\n"
    "        name: {{ .name | Quote }}\n"
)
_RESOURCES = "        resources: {{ .resources | toJson }}\n"


def report_container_resources(stages: str) -> str:
    """The stages text with pod-ready's container statuses carrying their resources."""
    docs = stages.split("\n---\n")
    for i, doc in enumerate(docs):
        if "name: pod-ready\n" in doc:
            if _CONTAINER not in doc:
                raise SandboxError("kwok's pod-ready stage has changed shape: cannot add "
                                   "container resources to it (hack/sandbox_lib/stages.py)")
            docs[i] = doc.replace(_CONTAINER, _CONTAINER + _RESOURCES, 1)
            return "\n---\n".join(docs)
    raise SandboxError("kwok's stages have no pod-ready stage (hack/sandbox_lib/stages.py)")


def write_sandbox_stages(bindir: Path, state_dir: Path) -> Path:
    """Writes the sandbox's stages file from the one hack/build-bins made; returns its path."""
    out = state_dir / "kwok-stages.yaml"
    out.write_text(report_container_resources((bindir / "kwok-stages.yaml").read_text()))
    return out
