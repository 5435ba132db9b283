"""A data dir is never a dead end: an interrupted first creation (no store.json) is redone, and a store
whose store.json is gone says how to rebuild it, which then works (issue 13: 'path already contains
segment data' forever, after a full disk)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.config import Settings
from rag.errors import StoreError
from rag.store import open_store
from rag.types import Chunk, StoreSpec

SPEC = StoreSpec("hashing:4", 4)


def chunk(n: int) -> Chunk:
    return Chunk(
        chunk_id=f"00000000-0000-0000-0000-{n:012d}", doc_id="doc", source="/docs/a.txt", index=n,
        text=f"passage {n}", title="a",
    )  # fmt: skip


@pytest.fixture(name="settings")
def settings_fixture(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", _env_file=None)  # type: ignore[call-arg]


def test_an_interrupted_creation_is_redone(settings: Settings) -> None:
    open_store(settings, SPEC).close()
    (settings.collection_dir / "store.json").unlink()  # the creation was cut short before its last step

    store = open_store(settings, SPEC)
    try:
        store.upsert([chunk(1)], [[1.0, 0.0, 0.0, 0.0]])
        assert store.count() == 1
    finally:
        store.close()


def test_a_store_that_lost_its_store_json_says_how_to_rebuild_and_reindex_can(settings: Settings) -> None:
    store = open_store(settings, SPEC)
    store.upsert([chunk(1), chunk(2)], [[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0]])
    store.close()
    (settings.collection_dir / "store.json").unlink()

    with pytest.raises(StoreError) as err:
        open_store(settings, SPEC)
    assert "holds 2 chunks but its store.json is missing" in err.value.message
    assert "rag reindex --yes" in err.value.message

    existing = open_store(settings, None)  # what `rag reindex` does first: drop the store as it is
    existing.drop()
    existing.close()
    store = open_store(settings, SPEC)
    try:
        assert store.count() == 0
    finally:
        store.close()
