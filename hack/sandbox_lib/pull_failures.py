"""Image pulls that fail in the sandbox: kwok pulls nothing, so every image (and every image
volume, an OCI artifact) "pulls" at once. A reference whose registry host is
``unpullable.invalid`` (``.invalid`` never resolves, so a real kubelet fails the same way)
is made to fail as a kubelet reports it: the pod stays Pending and each container waits
with reason ``ErrImagePull``.

Two changes to kwok's stages: kwok's pod-ready stage leaves such pods alone, and a stage
``pod-image-pull-failed`` writes the waiting state (once: it does not match a pod that
already shows it).
"""

from __future__ import annotations

from .processes import SandboxError

UNPULLABLE_HOST = "unpullable.invalid"
PULL_FAILED_STAGE = "pod-image-pull-failed"
# true when an image volume or a container names an image on the unpullable host
_UNPULLABLE = (
    "'[((.spec.volumes // [])[] | .image.reference // empty), "
    "(((.spec.initContainers // []) + .spec.containers)[] | .image)] "
    f"| any(startswith(\"{UNPULLABLE_HOST}/\"))'"
)
_SELECTOR = "  selector:\n    matchExpressions:\n"
_NOT_UNPULLABLE = (f"    - key: {_UNPULLABLE}\n"
                   "      operator: 'NotIn'\n      values:\n      - 'true'\n")
_STAGE = f"""apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: {PULL_FAILED_STAGE}
spec:
  resourceRef:
    apiGroup: v1
    kind: Pod
  selector:
    matchExpressions:
    - key: '.metadata.deletionTimestamp'
      operator: 'DoesNotExist'
    - key: '.status.phase'
      operator: 'In'
      values:
      - 'Pending'
    - key: {_UNPULLABLE}
      operator: 'In'
      values:
      - 'true'
    - key: '.status.containerStatuses.[0].state.waiting.reason'
      operator: 'NotIn'
      values:
      - 'ErrImagePull'
  next:
    statusTemplate: |
      conditions:
      - status: "False"
        type: Ready
        reason: ContainersNotReady
        message: "containers with unready status"
      containerStatuses:
      {{{{ range .spec.containers }}}}
      - image: {{{{ .image | Quote }}}}
        name: {{{{ .name | Quote }}}}
        ready: false
        restartCount: 0
        state:
          waiting:
            reason: ErrImagePull
            message: "failed to pull and unpack image: {UNPULLABLE_HOST}: no such host"
      {{{{ end }}}}
      phase: Pending"""


def fail_unpullable_pulls(stages: str) -> str:
    """The stages text with pulls from the unpullable host failing (see the module doc)."""
    docs = stages.split("\n---\n")
    ready = [i for i, doc in enumerate(docs) if "name: pod-ready\n" in doc]
    if len(ready) != 1 or _SELECTOR not in docs[ready[0]]:
        raise SandboxError("kwok's pod-ready stage is missing or has changed shape: cannot "
                           "keep unpullable pods from it (hack/sandbox_lib/pull_failures.py)")
    docs[ready[0]] = docs[ready[0]].replace(_SELECTOR, _SELECTOR + _NOT_UNPULLABLE, 1)
    return "\n---\n".join([*docs, _STAGE])
