"""Edge DNS: tenant Service names inside edge pods, answered from the same edge cluster.

One process per edge cluster (``python -m syncer.edgedns``; a Deployment there
in production, a process per edge in the sandbox). It watches only its own
edge API server, so names keep resolving while the centre is unreachable.

Map:
- ``settings.py``: flags / ``FUSIONVC_EDGEDNS_*`` (listen address per tenant, upstream, domain).
- ``view.py``: informers on the edge (fusionvc's namespaces, Services and pods;
  EndpointSlices) and the debounced rebuild of the tables.
- ``tables.py``: pure: edge copies -> per-tenant record tables, pod IP -> tenant.
- ``answer.py``: pure: (tables, tenant, query) -> response, or None to forward.
- ``server.py``: UDP/TCP listeners, the tenant check (listen address + source IP),
  the answer cache.
- ``forward.py``: names outside the cluster domain go to the upstream.
- ``pod_dns.py``: pure: the dnsPolicy/dnsConfig an edge pod gets (used by
  syncer/kinds/pod_translate.py).
- ``app.py`` / ``__main__.py``: the process.

Tenant of a query: the address it was sent to (fusionvc writes the tenant's
address on that edge, ``EdgeCluster.spec.dns.tenantNameservers``, into the
pod's dnsConfig), checked against the source: a pod IP of this edge cluster
must be a pod of that tenant, any other source must be in ``--trusted-sources``
(127.0.0.0/8 by default); else REFUSED. Nothing in the packet is trusted.
"""
