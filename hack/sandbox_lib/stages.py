"""kwok's stages as the sandbox runs them: kwok's own defaults, with kubelet behaviours fixed.

The pod-ready stage also reports each container's ``resources`` in its status, as a
kubelet with in-place resize does. The API servers use that field to tell whether
a pod's node supports resize ("Pod running on node without support for resize"
otherwise), so without it no pod on a kwok node could be resized.

Node addresses are always written whole. kwok's node-initialize stage writes an empty
``addresses:`` (null, which its status patch turns into "delete them") when a node has
an InternalIP but no Hostname, and kwok v0.8's ``NodeName`` is empty there: every time
a node went NotReady and came back (an edge API server restart, say), its addresses
vanished until the next heartbeat, and whatever reads them (metrics-server, the
kubelet endpoint, the tests) saw a node without an address.
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
# Where each node stage's own address block starts; it ends where daemonEndpoints begins.
_NODE_ADDRESS_BLOCKS = {"node-initialize": "{{ $hasInternalIP := false }}",
                        "node-heartbeat-with-lease": "      addresses:"}
_NODE_PORT = "      {{ with NodePort }}"
_ADDRESSES = (
    "      addresses:\n"
    "      {{ with NodeIP }}\n"
    "      - address: {{ . | Quote }}\n"
    "        type: InternalIP\n"
    "      {{ end }}\n"
    "      - address: {{ .metadata.name | Quote }}\n"
    "        type: Hostname\n"
)


def _replace_block(doc: str, start: str, end: str, new: str, stage: str) -> str:
    """``doc`` with the lines from the one containing ``start`` up to (not including) the
    one equal to ``end`` replaced by ``new``."""
    lines = doc.split("\n")
    first = next((i for i, ln in enumerate(lines) if start in ln), None)
    last = next((i for i, ln in enumerate(lines) if ln == end and first is not None
                 and i > first), None)
    if first is None or last is None:
        raise SandboxError(f"kwok's {stage} stage has changed shape: cannot fix its node "
                           "addresses (hack/sandbox_lib/stages.py)")
    return "\n".join([*lines[:first], *new.split("\n"), *lines[last:]])


def write_whole_node_addresses(stages: str) -> str:
    """The stages text with both node stages writing InternalIP and Hostname every time."""
    docs = stages.split("\n---\n")
    for stage, start in _NODE_ADDRESS_BLOCKS.items():
        found = [i for i, doc in enumerate(docs) if f"name: {stage}\n" in doc]
        if len(found) != 1:
            raise SandboxError(f"kwok's stages have no single {stage} stage "
                               "(hack/sandbox_lib/stages.py)")
        docs[found[0]] = _replace_block(docs[found[0]], start, _NODE_PORT, _ADDRESSES, stage)
    return "\n---\n".join(docs)


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
    stages = (bindir / "kwok-stages.yaml").read_text()
    out.write_text(write_whole_node_addresses(report_container_resources(stages)))
    return out
