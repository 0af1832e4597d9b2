"""The fleet: connections to tenant and edge clusters, and the management cluster that lists them.

- ``conn``: ``TenantConn``, ``EdgeConn`` (one client and its informers per cluster), ``WatchSpec``.
- ``specs``: the ``Tenant`` and ``EdgeCluster`` specs parsed once into frozen dataclasses.
- ``connect``: kubeconfig Secret -> authenticated client, with errors a tenant can read.
- ``management``: ``Tenant`` / ``EdgeCluster`` objects become connections and status.
"""

from syncer.fleet.conn import ClusterConn, EdgeConn, TenantConn, WatchSpec

__all__ = ["ClusterConn", "EdgeConn", "TenantConn", "WatchSpec"]
