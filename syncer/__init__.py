"""fusionvc: the syncer daemon and its servers (map: docs/architecture.md)."""

from syncer import lazy_k8s

# First, before any module imports kubernetes-asyncio: its package imports are deferred
# (lazy_k8s.py; a third of a second off every start).
lazy_k8s.install()
