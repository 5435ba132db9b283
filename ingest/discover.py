"""Which files under a path are documents to ingest, and which are editor noise to leave alone."""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterator
from pathlib import Path

from ingest.parse import file_type_of

# Lock files, temp files and partial downloads that editors and browsers leave beside real documents.
IGNORED_PATTERNS = (
    "~$*",
    ".~lock*",
    "*.swp",
    "*.swx",
    "*~",
    "*.tmp",
    "*.part",
    "*.crdownload",
    "*.download",
    ".DS_Store",
    "Thumbs.db",
    "desktop.ini",
)


def is_ignored(path: Path) -> bool:
    name = path.name
    return name.startswith(".") or any(fnmatch.fnmatch(name, pattern) for pattern in IGNORED_PATTERNS)


def is_candidate(path: Path) -> bool:
    """A file we would ingest if we met it while walking a folder."""
    return not is_ignored(path) and file_type_of(path) is not None


def walk(root: Path, exclude: Path | None = None) -> Iterator[tuple[Path, bool]]:
    """Every non-hidden file below ``root`` with whether it is a supported document, in a stable order.
    ``exclude`` (our own data dir, when it sits inside an ingested folder) is never entered."""
    excluded = exclude.resolve() if exclude else None
    for directory, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(
            d
            for d in dirnames
            if not d.startswith(".") and (excluded is None or Path(directory, d).resolve() != excluded)
        )
        for name in sorted(filenames):
            path = Path(directory, name)
            if not is_ignored(path) and path.is_file():
                yield path, file_type_of(path) is not None
