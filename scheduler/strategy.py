"""How a tenant wants cpu and memory used: the resource strategy of its policy.

Owns the ResourceStrategy values (apart from scheduler.policy so that the
plugins can read them without importing the policy parser, which is built
from the plugins).
"""

from __future__ import annotations

import enum


class ResourceStrategy(enum.Enum):
    # Spread load: prefer the emptiest nodes (cpu and memory).
    LEAST_ALLOCATED = "least-allocated"
    # Pack: prefer the fullest nodes, leaving whole nodes free for big pods.
    BIN_PACKING = "bin-packing"
