"""Free disk space, checked before anything is written to the data dir. The embedded store writes
through memory-mapped files: when the disk fills under one, the process dies of SIGBUS with no message
and the write half done. So a write that would leave less than the reserve is refused up front, with
a sentence that says what to do."""

from __future__ import annotations

import errno
import shutil
from pathlib import Path

from rag.errors import DiskFullError

_MB = 1024 * 1024


def free_bytes(path: Path) -> int:
    """Free bytes (for an unprivileged user) on the file system that holds ``path``, or will."""
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    return shutil.disk_usage(existing).free


def ensure_free_space(path: Path, needed_bytes: int, reserve_mb: int) -> None:
    """Raise DiskFullError unless writing ``needed_bytes`` under ``path`` leaves ``reserve_mb`` free."""
    free = free_bytes(path)
    if free - needed_bytes < reserve_mb * _MB:
        raise DiskFullError(
            f"The disk holding {path} is nearly full ({free // _MB} MB free; this write needs about "
            f"{max(needed_bytes // _MB, 1)} MB and RAG_MIN_FREE_DISK_MB={reserve_mb} MB are kept free): free "
            "some space or move RAG_DATA_DIR to a larger disk, then run it again. Nothing was written."
        )


def is_disk_full(exc: BaseException) -> bool:
    """An OSError or SQLite error that means the disk (or the user's quota) is full."""
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    return "disk is full" in str(exc)  # SQLite: "database or disk is full"


def disk_full_error(path: Path) -> DiskFullError:
    return DiskFullError(
        f"The disk holding {path} is full: free some space or move RAG_DATA_DIR to a larger disk, then "
        "run it again."
    )
