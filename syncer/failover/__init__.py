"""Failover and failback: tenant pods leave a lost edge cluster in bounded time, and nothing
runs twice when it returns.

Map:
- ``state``: the pure state machine of one EdgeCluster's reachability (Reachable,
  Lost since T, FailedOver, Recovering since T, re-admitted), its conditions, and
  its persistence in ``EdgeCluster.status.failover`` (timing survives a restart).
- ``plan``: pure decisions: what happens to each tenant pod on a lost cluster
  (NotReady, moved, failed, waiting) and which edge pods are leftovers on return.
- ``monitor``: ``FailoverMonitor``, one task per edge cluster: probe ``/readyz``,
  step the state, apply; ``admitted(edge)`` for the rest of the syncer.
- ``evict``: apply layer for tenant pods (status patches, Events, deletes).
- ``failback``: fresh lists of both sides, then UID-guarded deletes of leftovers.
- ``gate``: ``GatedClient``, an edge client that fails fast while its cluster is
  not admitted, so no worker waits on a lost cluster's timeouts.

Hooks elsewhere (each one line or so): ``fleet/management.py`` tracks every
EdgeCluster, writes its failover status and gates placement and the edge
client; ``kinds/pods.py`` leaves pods of a lost cluster to failover;
``kinds/nodes.py`` shows its virtual nodes Ready=Unknown; ``core/syncer.py``
skips it when converging copies; ``core/context.py`` holds ``admission``.
"""
