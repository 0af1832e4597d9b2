"""The edge-side dataset downloader: one file from an HTTP(S) URL onto a node's disk.

Run as ``python -m syncer.datasetfetch --url URL --sha256 HEX --dest DIR`` by the
download Job that ``syncer/kinds/edgedatasets.py`` pins to each target node (an
S3-compatible store is read through its HTTP(S) URL, e.g. a presigned one).

- ``fetch``: the transfer. Bytes go to ``DIR/.<file>.part``; an interrupted
  transfer (connection lost, process killed) resumes from the partial file with
  an HTTP ``Range`` request (from the start when the server ignores ranges).
  The SHA-256 of the whole file is checked before it becomes ``DIR/<file>``
  (atomic rename) and ``DIR/.ready`` (the checksum it was checked against) is
  written last: a consumer that sees ``.ready`` sees a complete, verified file.
  A mismatch leaves nothing behind (the partial file is removed).
- ``__main__``: the command line; exit status and a one-line termination message
  (``ChecksumMismatch: ...``) say what happened, so the Job's failure carries
  the reason to the EdgeDataset's status.
"""

from syncer.datasetfetch.fetch import (
    ChecksumMismatch,
    FetchError,
    FetchResult,
    fetch,
)

__all__ = ["ChecksumMismatch", "FetchError", "FetchResult", "fetch"]
