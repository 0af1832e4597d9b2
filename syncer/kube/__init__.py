"""The network edge of fusionvc: REST calls, informers and their caches, as plain dicts."""
