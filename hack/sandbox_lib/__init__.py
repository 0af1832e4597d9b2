"""Local sandbox of real Kubernetes control planes (see hack/sandbox)."""
