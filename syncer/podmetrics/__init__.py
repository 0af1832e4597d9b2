"""Pods' own Prometheus-format metrics, collected per edge pod (custom metrics and delivery).

Map of the package:

- ``promtext``: pure. Prometheus text exposition format -> samples.
- ``source``: ``PodSeriesSource`` scrapes every edge node's pod-metrics endpoint (the
  node's InternalIP and kubelet port, path from the node annotation
  ``metrics.fusionvc.io/pod-metrics-path``; only addresses in allowed networks, by
  default 127.0.0.0/8, so a pod IP is never dialled) and keeps the newest samples of
  every fusionvc pod, keyed by edge pod. In the sandbox kwok simulates these metrics
  from pod annotations; on real edges an agent serving the same format takes its place.

Consumers: ``syncer/metricsapi`` (``custom.metrics.k8s.io``) and
``syncer/metricsdelivery`` (remote write). Both translate edge pods back to the
tenant's own pods through the tenant's caches, so no answer names an edge object.
"""
