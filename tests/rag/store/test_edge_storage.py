"""RAG_STORE_ON_DISK and RAG_STORE_QUANTIZATION on the embedded store: a new store is built as they say,
and changing them on an existing one is applied in place (the engine rewrites its segments at the next
optimisation) with a message saying so; search finds the same chunks either way."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt
import pytest

from rag.config import Settings
from rag.store import open_store
from rag.store.base import SearchRequest, VectorStore
from rag.types import Chunk, SearchFilters, StoreSpec

DIM = 384
CHUNKS = 8_000  # 12 MB of vectors: past the engine's 10 MB indexing threshold, so optimize builds HNSW
SPEC = StoreSpec("test:clustered", DIM)
Matrix = npt.NDArray[np.float64]


def vectors() -> Matrix:
    rng = np.random.default_rng(3)
    centres = rng.standard_normal((40, DIM))
    points = centres[rng.integers(0, 40, CHUNKS)] + rng.standard_normal((CHUNKS, DIM)) * 0.05
    unit: Matrix = points / np.linalg.norm(points, axis=1, keepdims=True)
    return unit


def chunks() -> list[Chunk]:
    return [
        Chunk(
            chunk_id=f"00000000-0000-0000-0000-{n:012d}",
            doc_id=f"doc{n // 10}",
            source=f"/kb/{n // 10}.md",
            index=n % 10,
            text=f"passage {n}",
            title="t",
            access=("group:team-a",) if n % 4 else (),
        )
        for n in range(CHUNKS)
    ]


def settings(data_dir: Path, on_disk: bool, quantization: Literal["none", "8bit"]) -> Settings:
    return Settings(  # type: ignore[call-arg]
        data_dir=data_dir,
        _env_file=None,
        hnsw_threshold=0,
        store_on_disk=on_disk,
        store_quantization=quantization,
    )


@pytest.fixture(scope="module")
def data() -> tuple[list[Chunk], Matrix]:
    return chunks(), vectors()


@pytest.fixture(name="data_dir")
def data_dir_fixture(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "data"


def fill(store: VectorStore, data: tuple[list[Chunk], Matrix]) -> None:
    chunks_, vectors_ = data
    store.upsert(chunks_, vectors_.tolist())
    store.optimize()


def nearest(store: VectorStore, vector: list[float], filters: SearchFilters | None = None) -> list[str]:
    request = SearchRequest("", vector, "dense", limit=10, filters=filters or SearchFilters())
    return [hit.chunk.chunk_id for hit in store.search(request)]


def segment_files(data_dir: Path, name: str) -> list[Path]:
    return list(data_dir.rglob(name))


def test_a_new_store_on_disk_with_8_bit_copies_finds_what_an_in_memory_one_finds(
    tmp_path: Path,
    data: tuple[list[Chunk], Matrix],
) -> None:
    found: dict[str, list[list[str]]] = {}
    layouts: list[tuple[bool, Literal["none", "8bit"]]] = [(False, "none"), (True, "8bit")]
    for on_disk, quantization in layouts:
        data_dir = tmp_path / f"{on_disk}-{quantization}"
        store = open_store(settings(data_dir, on_disk, quantization), SPEC)
        try:
            fill(store, data)
            probes = data[1][:20].tolist()
            found[quantization] = [nearest(store, probe) for probe in probes]
            found[quantization + "-filtered"] = [
                nearest(store, probe, SearchFilters(access=("group:team-a",))) for probe in probes
            ]
        finally:
            store.close()
        meta = json.loads((data_dir / "private_rag" / "store.json").read_text())
        assert meta["storage"] == {"on_disk": on_disk, "quantization": quantization}
        assert bool(segment_files(data_dir, "quantized.data")) == (quantization == "8bit")
        if on_disk:
            assert {storage_type(segment) for segment in segment_files(data_dir, "segment.json")} <= ON_DISK
    for kind in ("", "-filtered"):
        same = [
            len(set(a) & set(b)) / 10 for a, b in zip(found["none" + kind], found["8bit" + kind], strict=True)
        ]
        assert np.mean(same) >= 0.9, kind  # rescored with the full vectors: the same neighbours


@pytest.mark.slow  # three optimisations of 8,000 384-d chunks: ~20 s on two cores
def test_changing_the_options_on_an_existing_store_is_applied_in_place(
    data_dir: Path,
    data: tuple[list[Chunk], Matrix],
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = open_store(settings(data_dir, False, "none"), SPEC)
    try:
        fill(store, data)
    finally:
        store.close()
    assert not segment_files(data_dir, "quantized.data")

    with caplog.at_level(logging.WARNING, logger="rag.store"):
        store = open_store(settings(data_dir, True, "8bit"), SPEC)
    try:
        assert "now keeps vectors and indexes on disk (mmap), 8-bit copies in memory" in caplog.text
        assert f"its {CHUNKS} chunks are rewritten" in caplog.text
        probe = data[1][5].tolist()
        assert nearest(store, probe)[0] == data[0][5].chunk_id  # searchable before the rewrite
        store.optimize()
        assert segment_files(data_dir, "quantized.data")
        assert nearest(store, probe)[0] == data[0][5].chunk_id
        assert store.count() == CHUNKS
    finally:
        store.close()

    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="rag.store"):
        open_store(settings(data_dir, True, "8bit"), SPEC).close()
    assert "now keeps" not in caplog.text  # recorded: the next start says nothing

    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="rag.store"):
        store = open_store(settings(data_dir, False, "none"), SPEC)  # and back
    try:
        assert "now keeps vectors and indexes in memory, 8-bit copies in memory" in caplog.text
        assert "cannot be removed from an existing store" in caplog.text  # the engine cannot drop them
        assert "`rag reindex --yes`" in caplog.text
        store.optimize()
        assert store.count() == CHUNKS
        assert nearest(store, probe)[0] == data[0][5].chunk_id
    finally:
        store.close()
    meta = json.loads((data_dir / "private_rag" / "store.json").read_text())
    assert meta["storage"] == {"on_disk": False, "quantization": "8bit"}  # what the store now is
    open_store(settings(data_dir, False, "8bit"), SPEC).close()  # the engine drops replaced segments on load
    assert segment_files(data_dir, "quantized.data")
    assert {storage_type(segment) for segment in segment_files(data_dir, "segment.json")} <= IN_MEMORY


IN_MEMORY = {"InRamMmap", "InRamChunkedMmap"}  # the engine's names for vectors held in memory
ON_DISK = {"Mmap", "ChunkedMmap"}  # read from the files on demand


def storage_type(segment_json: Path) -> str:
    config = json.loads(segment_json.read_text())["config"]
    return str(config["vector_data"]["dense"]["storage_type"])


def allocated_mib(folder: Path) -> float:
    return sum(f.stat().st_blocks * 512 for f in folder.rglob("*") if f.is_file()) / 2**20


def test_optimizing_truncates_the_write_ahead_log_while_the_store_stays_open(
    data_dir: Path, data: tuple[list[Chunk], Matrix]
) -> None:
    """A store that is never closed (`rag serve`, a worker) must not keep every write in its WAL."""
    chunks_, vectors_ = data
    store = open_store(settings(data_dir, False, "none"), SPEC)
    try:
        wal = next(data_dir.rglob("wal"))
        for _ in range(6):  # rewrites, so the log spans several of its 32 MiB files
            store.upsert(chunks_, vectors_.tolist())
        written = allocated_mib(wal)
        store.optimize()
        assert allocated_mib(wal) < written / 2, (written, allocated_mib(wal))
        assert store.count() == CHUNKS  # what the WAL held is in the segments now
    finally:
        store.close()


def test_optimizing_asks_for_room_for_its_largest_rewrite_not_for_the_whole_store(tmp_path: Path) -> None:
    """A store of many segments is optimised a segment (or a merge) at a time."""
    from rag.store.edge import _rewrite_bytes

    segments = tmp_path / "shard" / "segments"
    for name, mib in (("a", 1), ("b", 3), ("c", 2), ("d", 1)):
        (segments / name).mkdir(parents=True)
        (segments / name / "vectors.dat").write_bytes(b"x" * mib * 2**20)
    assert round(_rewrite_bytes(tmp_path / "shard") / 2**20) == 3 + 2
    assert _rewrite_bytes(tmp_path / "empty") == 0
