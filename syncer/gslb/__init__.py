"""GSLB: the authoritative DNS server for the hostnames tenants export (``python -m syncer.gslb``).

Map:
- ``model``: the compiled answer table (pure): published records + EdgeClusters + UserRegions
  + Tenants' zones -> hosts, sites, client networks, hosted zones.
- ``select``: which addresses one query gets (pure): nearest sites within the tolerance,
  same-carrier entrances first, smooth weighted round robin over ready replicas.
- ``waterlevel``: drain/undrain of a site by load with hysteresis (pure).
- ``answer``: one DNS message in, one out (dnspython wire format): A/AAAA/SOA/NS,
  NXDOMAIN inside hosted zones, REFUSED outside, EDNS client subnet.
- ``server``: UDP and TCP listeners on asyncio.
- ``source``: informers on the management cluster; recompiles the table on change and
  keeps the last table while the management cluster is unreachable.
- ``__main__``: command line.

The syncer side (``syncer/kinds/servicedomains.py``) decides claims, counts ready replicas
per edge cluster, and publishes one record ConfigMap per accepted ServiceDomain.
"""
