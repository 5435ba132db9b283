"""The free-space guard: a write that would leave less than RAG_MIN_FREE_DISK_MB is refused with a
sentence, before the embedded store can die of SIGBUS on a full disk."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from rag.config import Settings
from rag.disk import ensure_free_space, is_disk_full
from rag.errors import DiskFullError
from rag.store import open_store
from rag.types import StoreSpec

EVERYTHING_MB = 1 << 40  # more than any disk has


def test_a_write_that_would_leave_less_than_the_reserve_is_refused(tmp_path: Path) -> None:
    ensure_free_space(tmp_path, needed_bytes=1024, reserve_mb=0)  # room enough: no error
    free_mb = shutil.disk_usage(tmp_path).free // (1024 * 1024)
    with pytest.raises(DiskFullError) as refused:
        ensure_free_space(tmp_path / "not" / "yet" / "made", needed_bytes=0, reserve_mb=free_mb + 10)
    message = refused.value.message
    assert message.startswith(f"The disk holding {tmp_path}/not/yet/made is nearly full (")
    assert f"RAG_MIN_FREE_DISK_MB={free_mb + 10} MB are kept free" in message
    assert message.endswith("move RAG_DATA_DIR to a larger disk, then run it again. Nothing was written.")


def test_the_errors_that_mean_a_full_disk_are_recognised() -> None:
    with pytest.raises(OSError) as full, open("/dev/full", "wb") as device:  # a real ENOSPC
        device.write(b"x")
        device.flush()
    assert is_disk_full(full.value)
    assert is_disk_full(sqlite3.OperationalError("database or disk is full"))
    assert not is_disk_full(OSError(13, "Permission denied"))
    assert not is_disk_full(sqlite3.OperationalError("database is locked"))


def test_no_store_is_created_without_room_for_it(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", min_free_disk_mb=EVERYTHING_MB, _env_file=None)  # type: ignore[call-arg]
    with pytest.raises(DiskFullError, match="is nearly full"):
        open_store(settings, StoreSpec("hashing:4", 4))
    assert not (settings.collection_dir / "shard").exists()
    assert not (settings.collection_dir / "store.json").exists()
