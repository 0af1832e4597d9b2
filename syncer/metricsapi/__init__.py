"""metrics.k8s.io and custom.metrics.k8s.io for tenants: ``kubectl top`` and HPAs.

Map of the package:

- ``translate``: pure. Edge PodMetrics (edge namespace, edge pod) -> usage records;
  tenant PodMetrics/NodeMetrics built from them in tenant terms (tenant namespace,
  pod name, labels, virtual node; a virtual node sums only that tenant's pods).
- ``selector``: pure. Label selectors of list requests (``-l``, the HPA's selector).
- ``edge_source``: polls every edge cluster's ``metrics.k8s.io`` (its own
  metrics-server) and keeps the newest usage of every pod, keyed by edge pod.
- ``auth``: who is asking. The aggregator's front-proxy client certificate names the
  tenant (the one tenant whose requestheader CA issued it); the user comes from the
  requestheader headers; a SubjectAccessReview in that tenant decides.
- ``registration``: the ExternalName Service and the APIService
  ``v1beta1.metrics.k8s.io`` (and ``v1beta2.custom.metrics.k8s.io``) fusionvc writes into
  every tenant apiserver.
- ``custom``: ``custom.metrics.k8s.io/v1beta2``: the pods' own metrics (``syncer/podmetrics``)
  as MetricValues of the tenant's pods, for HPAs of type Pods.
- ``server``: the TLS server (aiohttp) serving discovery, PodMetrics and NodeMetrics;
  ``MetricsApiServer`` owns its tasks (edge polling, pod scraping via ``MetricSources``,
  tenant refresh) and stops them.

It reads the syncer's caches (``tenants``/``edges`` mappings of connections) and
writes nothing but the APIService registrations.
"""
