"""MetricsDelivery: a tenant namespace's metrics pushed to the tenant's own Prometheus.

Map of the package:

- ``spec``: pure. The MetricsDelivery spec and its credentials Secret, validated.
- ``collect``: pure over lookups. The namespace's series in tenant terms (pod phase,
  restarts, resource usage, the pods' own metrics); never an edge name.
- ``remote_write`` + ``snappy``: pure. Prometheus remote-write 1.0 bodies (hand-written
  protobuf, Snappy block format in Python).
- ``buffer``: pure. The bounded sample buffer (oldest dropped, counted).
- ``worker``: one object's loop: collect, buffer, push, retry with backoff; reports state.
- ``status``: pure. Status and the ``Ready`` condition from a worker's state.
- ``syncer``: ``MetricsDeliverySyncer`` (a ResourceSyncer): one worker per object, status,
  conditions and Warning Events; the CRD is config/crd/tenant/
  edge.fusionvc.io_metricsdeliveries.yaml.
"""
