"""Removes one dataset copy's folder from a node: ``python -m syncer.datasetfetch.remove``.

Run by the cleanup Job ``syncer/kinds/dataset_cleanup.py`` pins to the node of a
copy that went (source changed, EdgeDataset or Tenant deleted), with the tenant
namespace's dataset folder mounted as ``--root``:
``--root /datasets --copy <name>/<sha256[:16]>`` removes ``/datasets/<name>/<sha16>``
and then ``/datasets/<name>`` when it is empty. The copy is only ever a dataset
name (a DNS subdomain) and 16 hex digits: nothing else is accepted, so no
argument can reach outside the root (no ``..``, no absolute path, no symlink
followed: a symlink where a folder should be is refused).

Exit status: 0 removed or already absent; 2 bad arguments; 5 the removal failed.
The last line of stderr and, when given, ``--termination-log`` say what happened.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import stat
import sys
from pathlib import Path

from syncer.datasetfetch.report import say

EXIT_ARGUMENTS, EXIT_REMOVE = 2, 5
NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")  # an EdgeDataset's name
SHA16 = re.compile(r"^[0-9a-f]{16}$")


class RemoveError(RuntimeError):
    """The folder could not be removed (reason in the message)."""


def parse_copy(copy: str) -> tuple[str, str]:
    """(name, sha16) of ``<name>/<sha16>``; ValueError for anything else."""
    parts = copy.split("/")
    if len(parts) != 2 or not NAME.match(parts[0]) or not SHA16.match(parts[1]):
        raise ValueError(f"--copy must be <dataset name>/<16 hex digits>, got {copy!r}")
    return parts[0], parts[1]


def _real_folder(path: Path) -> bool:
    """True for a folder that is not a symlink; False when absent; RemoveError otherwise."""
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return False
    if not stat.S_ISDIR(mode):
        raise RemoveError(f"{path} is not a folder (a symlink or a file): not removed")
    return True


def remove_copy(root: Path, name: str, sha16: str) -> bool:
    """Removes ``root/name/sha16`` (and ``root/name`` when empty); False when absent."""
    if not _real_folder(root):
        return False
    parent = root / name
    if not _real_folder(parent):
        return False
    folder = parent / sha16
    removed = _real_folder(folder)
    if removed:
        try:
            shutil.rmtree(folder)  # never follows symlinks inside the folder
        except OSError as err:
            raise RemoveError(f"removing {folder}: {err.strerror or err}") from None
    with contextlib.suppress(OSError):  # not empty: another source's copy is there
        os.rmdir(parent)
    return removed


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m syncer.datasetfetch.remove",
                                description="Remove one dataset copy's folder from this node.")
    p.add_argument("--root", required=True, type=Path, help="the tenant namespace's folder")
    p.add_argument("--copy", required=True, help="<dataset name>/<sha256[:16]>")
    p.add_argument("--termination-log", type=Path, default=None)
    args = p.parse_args(argv)
    try:
        name, sha16 = parse_copy(args.copy)
    except ValueError as err:
        say(f"InvalidArguments: {err}", args.termination_log)
        return EXIT_ARGUMENTS
    try:
        removed = remove_copy(args.root, name, sha16)
    except RemoveError as err:
        say(f"RemoveFailed: {err}", args.termination_log)
        return EXIT_REMOVE
    say(f"Removed: {name}/{sha16}" if removed else f"Absent: {name}/{sha16}",
         args.termination_log)
    return 0


if __name__ == "__main__":
    sys.exit(main())
