"""Which files under a path are documents to ingest, and which are editor noise to leave alone."""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterator
from dataclasses import dataclass
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


@dataclass(frozen=True, slots=True)
class Found:
    """A file met while walking a folder: a supported document or not, or a reason it is not read."""

    path: Path
    supported: bool
    problem: str | None = None  # reported in the ingest report's `failed`


def safe_resolve(path: Path) -> Path | None:
    """The real path, or None for a broken link or a link loop (Path.resolve raises on a loop)."""
    try:
        return path.resolve(strict=True)
    except (OSError, RuntimeError):
        return None


def refusal(path: Path, root: Path) -> str | None:
    """Why a file found under ``root`` (resolved) must not be read, or None. Whoever can drop a file
    into a watched folder must not be able to make the service read what lies outside it."""
    try:
        path.name.encode("utf-8")
    except UnicodeEncodeError:  # bytes that are not UTF-8 (legal on Linux): the index stores text
        return "The file name is not valid UTF-8: rename the file to ingest it."
    if path.is_symlink():
        target = safe_resolve(path)
        if target is None:
            return "A broken link or a link loop: not followed."
        if not target.is_relative_to(root):
            return "A link to outside the folder: not followed."
    if not os.access(path, os.R_OK):
        return "Permission denied: the service's user cannot read this file."
    return None


def walk(root: Path, exclude: Path | None = None) -> Iterator[Found]:
    """Every non-hidden file below ``root``, in a stable order, with whether it is a supported document
    (FIFOs, devices and sockets are not: they are never opened). Links are followed only within
    ``root``; an unreadable folder or file, and a name that is not UTF-8, are reported. ``exclude``
    (our own data dir, when it sits inside an ingested folder) is never entered."""
    real_root = safe_resolve(root) or root.absolute()
    excluded = exclude.resolve() if exclude else None
    unreadable: list[OSError] = []
    for directory, dirnames, filenames in os.walk(root, onerror=unreadable.append):
        while unreadable:
            yield _unreadable_folder(unreadable.pop())
        for name in dirnames:  # os.walk lists linked folders but does not enter them
            link = Path(directory, name)
            if not name.startswith(".") and link.is_symlink():
                target = safe_resolve(link)
                if target is None or not target.is_relative_to(real_root):
                    yield Found(link, False, "A link to outside the folder (or a broken link): not followed.")
        dirnames[:] = sorted(
            d
            for d in dirnames
            if not d.startswith(".") and (excluded is None or Path(directory, d).resolve() != excluded)
        )
        for name in sorted(filenames):
            path = Path(directory, name)
            if is_ignored(path):
                continue
            problem = refusal(path, real_root)
            if problem is not None:
                yield Found(path, False, problem)
            else:  # a FIFO, device or socket is counted as skipped, never opened
                yield Found(path, path.is_file() and file_type_of(path) is not None)
    for error in unreadable:
        yield _unreadable_folder(error)


def _unreadable_folder(error: OSError) -> Found:
    return Found(Path(error.filename), False, "Permission denied: this folder cannot be read.")
