"""The kubelet endpoint of fusionvc's virtual nodes: logs, exec, attach, port-forward, run.

A tenant kube-apiserver reaches a node's kubelet at the node's InternalIP and
``daemonEndpoints.kubeletEndpoint.Port``; fusionvc writes this endpoint's
advertised address and port there, so ``kubectl logs/exec/attach/port-forward/cp``
in a tenant come here and are relayed to the edge API server's pod subresources.

Map:

- ``endpoint.py``: settings -> the server (``start_endpoint``), and the address
  virtual nodes advertise; the daemon's only entry point.
- ``server.py``: the aiohttp TLS server: checks, then logs streaming, upgrades, ``/run``.
- ``h2server.py``: the listener (ALPN ``h2``/``http/1.1``) and HTTP/2 connections from
  tenant apiservers: plain GETs (``/containerLogs``, ``/run``) as streams of one connection.
- ``calls.py``: what both protocols share: checks to edge call, ``/run``'s answer, the
  logs relay loop, edge error texts.
- ``stats.py``: open log streams and HTTP/2 connections as gauges on ``/metrics``.
- ``access.py``: the tenant from the client certificate, and the checks that a
  call may reach a pod (isolation).
- ``paths.py``: kubelet path and query -> edge subresource path and query (pure).
- ``edge.py``: streaming sessions to edge API servers (logs over HTTP/2 where offered),
  ``EdgeUnreachable``.
- ``h2edge.py``: HTTP/2 connections to edge API servers, shared by followed logs.
- ``h2conn.py``: HTTP/2 over one asyncio connection (``h2``), streams with flow control.
- ``tunnel.py``: the byte relay between two upgraded connections.
- ``tlsbuffer.py``: small TLS read buffers for followed logs (memory per stream).
- ``run.py``: ``/run`` as a WebSocket exec on the edge.
- ``debug.py``: ephemeral containers (``kubectl debug``) copied to the edge pod.
"""
