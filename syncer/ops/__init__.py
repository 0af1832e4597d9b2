"""Operational plumbing, apart from the sync core: what an operator configures and watches.

- ``settings``: every setting as one typed table (flags > environment > file).
- ``logs``: structured JSON/console logs with redaction.
- ``metrics``: the Prometheus registry and every fusionvc_* metric.
- ``health``: /metrics, /healthz and /readyz over HTTP.
- ``leader``: Lease-based leader election among replicas.
"""
