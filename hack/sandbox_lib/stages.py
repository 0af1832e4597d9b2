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

kwok completes a Running pod only when a Job owns it. An edge copy of a tenant's Job
pod has no owner (its Job lives in the tenant), only the Job controller's
``batch.kubernetes.io/job-name`` label, so without a second completion stage keyed on
that label no tenant Job would ever finish in the sandbox. kwok runs no command, so the
stage reads the first container's: a command finishes (exit 0), while a container that
runs its image's own entrypoint (as the pause image of upstream's long-running Job
tests) or ``sleep`` keeps running until deleted. A pod can say how long it "runs" first:
the annotation ``pod-complete.stage.kwok.x-k8s.io/delay`` (a duration such as ``30s`` or
``1h``; none means at once, as kwok's own stage does).
"""

from __future__ import annotations

from pathlib import Path

from .processes import SandboxError
from .pull_failures import fail_unpullable_pulls

_CONTAINER = (
    "      {{ range .spec.containers }}\n"
    "      - image: {{ .image | Quote }}\n"
    "        name: {{ .name | Quote }}\n"
)
_RESOURCES = "        resources: {{ .resources | toJson }}\n"
_JOB_OWNER = (
    "    - key: '.metadata.ownerReferences.[].kind'\n"
    "      operator: 'In'\n"
    "      values:\n"
    "      - 'Job'\n"
)
_JOB_LABEL = (
    "    - key: '.metadata.labels[\"batch.kubernetes.io/job-name\"]'\n"
    "      operator: 'Exists'\n"
    "    - key: '.metadata.ownerReferences'\n"
    "      operator: 'DoesNotExist'\n"
    "    - key: '.spec.containers.[0].command.[0]'\n"
    "      operator: 'Exists'\n"
    "    - key: '.spec.containers.[0].command.[0]'\n"
    "      operator: 'NotIn'\n"
    "      values:\n"
    "      - 'sleep'\n"
)
_STAGE_SPEC = "spec:\n"


def _delay_from_annotation(stage: str) -> str:
    return ("  delay:\n"
            "    durationMilliseconds: 0\n"
            "    durationFrom:\n"
            "      expressionFrom: "
            f"'.metadata.annotations[\"{stage}.stage.kwok.x-k8s.io/delay\"]'\n")


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


JOB_POD_COMPLETE_STAGE = "pod-complete-tenant-job"


def complete_labelled_job_pods(stages: str) -> str:
    """The stages text plus a copy of pod-complete keyed on the Job controller's pod label."""
    docs = stages.split("\n---\n")
    original = next((doc for doc in docs if "name: pod-complete\n" in doc), None)
    if original is None or _JOB_OWNER not in original or _STAGE_SPEC not in original:
        raise SandboxError("kwok's pod-complete stage is missing or has changed shape: cannot "
                           "add the tenant Job stage to it (hack/sandbox_lib/stages.py)")
    copy = (original.replace("name: pod-complete\n", f"name: {JOB_POD_COMPLETE_STAGE}\n", 1)
            .replace(_JOB_OWNER, _JOB_LABEL, 1)
            .replace(_STAGE_SPEC, _STAGE_SPEC + _delay_from_annotation("pod-complete"), 1))
    return "\n---\n".join([*docs, copy])


def delay_deletes_by_annotation(stages: str) -> str:
    """The stages text with pod-delete waiting as long as a pod's annotation
    ``pod-delete.stage.kwok.x-k8s.io/delay`` says (none: at once, as kwok's own stage):
    a pod whose containers take their time to stop, so that a test sees its copy
    terminating (and its grace cut by a later, shorter delete)."""
    docs = stages.split("\n---\n")
    found = [i for i, doc in enumerate(docs) if "name: pod-delete\n" in doc]
    if len(found) != 1 or _STAGE_SPEC not in docs[found[0]] \
            or "  delay:\n" in docs[found[0]]:
        raise SandboxError("kwok's pod-delete stage is missing or has changed shape: cannot "
                           "delay it by annotation (hack/sandbox_lib/stages.py)")
    docs[found[0]] = docs[found[0]].replace(
        _STAGE_SPEC, _STAGE_SPEC + _delay_from_annotation("pod-delete"), 1)
    return "\n---\n".join(docs)


def write_sandbox_stages(bindir: Path, state_dir: Path) -> Path:
    """Writes the sandbox's stages file from the one hack/build-bins made; returns its path."""
    out = state_dir / "kwok-stages.yaml"
    stages = (bindir / "kwok-stages.yaml").read_text()
    fixed = write_whole_node_addresses(report_container_resources(stages))
    out.write_text(fail_unpullable_pulls(delay_deletes_by_annotation(
        complete_labelled_job_pods(fixed))))
    return out
