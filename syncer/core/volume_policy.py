"""Which volume types and inline CSI drivers a tenant's pods may use (pure).

A Tenant setting (``spec.isolation.volumeTypes``, ``spec.isolation.csiDrivers``)
with a safe default: volumes that only carry the pod's own data or the
tenant's own objects. Anything that reaches outside the edge namespace (NFS,
iSCSI, cloud disks, inline CSI, ...) must be allowed by the operator, and an
inline CSI volume also needs its driver listed. hostPath is never allowed
(isolation.py), whatever the setting.
"""

from __future__ import annotations

from collections.abc import Iterator

from syncer.core.pod_security import Violation
from syncer.kube import Obj

DEFAULT_VOLUME_TYPES = frozenset({"configMap", "secret", "emptyDir", "projected", "downwardAPI",
                                  "persistentVolumeClaim", "ephemeral", "image"})


def volume_violations(spec: Obj, allowed: frozenset[str],
                      csi_drivers: frozenset[str]) -> Iterator[Violation]:
    for i, volume in enumerate(spec.get("volumes") or []):
        for source in sorted(set(volume) - {"name"}):
            if source not in allowed:
                yield Violation(f"spec.volumes[{i}].{source}",
                                f"{source} volumes are not allowed by the tenant policy")
            elif source == "csi" and (volume["csi"] or {}).get("driver") not in csi_drivers:
                driver = (volume["csi"] or {}).get("driver")
                yield Violation(f"spec.volumes[{i}].csi.driver",
                                f"CSI driver {driver} is not allowed by the tenant policy")
