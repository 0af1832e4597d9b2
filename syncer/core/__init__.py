"""The sync core: how a watch event becomes a write, whatever the kind.

- ``keys``: ``WorkKey``, the tenant-side key every piece of work is queued under.
- ``queue``: ``FairQueue``, per-tenant round-robin with dedup, backoff and a bound.
- ``context``: ``SyncContext``, the typed collaborators every syncer works with.
- ``syncer``: ``ResourceSyncer``, the shape of one synced kind, and the shared
  create-or-adopt-or-update and converge-copies routines.
- ``controller``: informers -> queue -> workers -> ``reconcile(key)``, and the drift scan.
- ``markers``, ``names``: the stable contract of what fusionvc writes (labels,
  annotations, edge namespace and virtual node names).
- ``conditions``, ``recorder``: status conditions and Events the tenant reads.
- ``isolation``: what a tenant may write, checked before anything is written.
"""
