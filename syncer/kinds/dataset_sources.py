"""Where an EdgeDataset comes from (pure): exactly one of an HTTP(S) URL with its SHA-256, or
an OCI artifact reference.

``spec.source.url`` + ``spec.source.sha256``: the downloader of this repository
fetches and checks the file (``dataset_translate``). ``spec.source.oci.reference``
(``registry/repository:tag`` or ``...@sha256:<digest>``): the edge's kubelet pulls
the artifact as an image volume (``dataset_oci``). Either way the source has a
*key*, 64 hex digits that name its copies (Jobs, host folders, claims): the
file's SHA-256 for a URL, the SHA-256 of ``oci:<reference>`` for an artifact, so
a changed reference is a new copy everywhere, as a changed file is.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from syncer.kinds.edge_targets import TargetError
from syncer.kube import Obj

# registry host (with a dot, a port or localhost) / path [:tag] [@sha256:digest]
OCI_REFERENCE = re.compile(
    r"^(?P<host>[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]+)?)/"
    r"(?P<path>[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*)"
    r"(:(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?"
    r"(@(?P<digest>sha256:[0-9a-f]{64}))?$")


@dataclass(frozen=True)
class SourceSpec:
    url: str  # "" for an OCI artifact
    sha256: str  # the source's key: the file's SHA-256, or that of the OCI reference
    oci: str | None = None  # the artifact reference


def oci_key(reference: str) -> str:
    return hashlib.sha256(f"oci:{reference}".encode()).hexdigest()


def parse_oci_reference(reference: str, where: str = "spec.source.oci.reference") -> str:
    """A full artifact reference (registry host, repository, and a tag or a digest)."""
    found = OCI_REFERENCE.match(reference)
    host = found.group("host") if found else ""
    if found is None or not ("." in host or ":" in host or host == "localhost"):
        raise TargetError(f"{where}: {reference!r} is not a full OCI reference "
                          "(registry/repository:tag or registry/repository@sha256:<digest>)")
    if not found.group("tag") and not found.group("digest"):
        raise TargetError(f"{where}: {reference!r} names neither a tag nor a digest")
    return reference


def parse_source(source: Obj) -> SourceSpec:
    """The source of ``spec.source``: exactly one of ``url`` (with ``sha256``) or ``oci``."""
    oci = source.get("oci")
    if oci is not None and source.get("url"):
        raise TargetError("spec.source: give either url (with sha256) or oci, not both")
    if oci is not None:
        if source.get("sha256"):
            raise TargetError("spec.source.sha256 belongs to a url source; an OCI artifact "
                              "is pinned by a digest in its reference")
        reference = parse_oci_reference(str((oci or {}).get("reference") or ""))
        return SourceSpec(url="", sha256=oci_key(reference), oci=reference)
    url, sha = str(source.get("url") or ""), str(source.get("sha256") or "").lower()
    if not url.startswith(("http://", "https://")):
        raise TargetError("spec.source.url: an http(s) URL is needed (or spec.source.oci)")
    if len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
        raise TargetError("spec.source.sha256: 64 hex digits are needed")
    return SourceSpec(url=url, sha256=sha)
