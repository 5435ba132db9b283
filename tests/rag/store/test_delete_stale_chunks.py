"""delete_stale_chunks: a document's chunks other than the ones to keep go, by one filter, on both stores;
other documents' chunks stay."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from qdrant_client import QdrantClient

from rag.config import Settings
from rag.store import open_store
from rag.store.base import VectorStore
from rag.store.server import ServerStore
from rag.types import Chunk, StoreSpec, chunk_id, document_id

SPEC = StoreSpec(embedder="test:4d", dimension=4)


@pytest.fixture(params=["edge", "qdrant-client-memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[VectorStore]:
    if request.param == "edge":
        settings = Settings(data_dir=tmp_path, embedder="sentence-transformers:unused", _env_file=None)  # type: ignore[call-arg]
        opened: VectorStore = open_store(settings, SPEC)
    else:
        opened = ServerStore(QdrantClient(":memory:"), "stale", ":memory:").open(SPEC)
    yield opened
    opened.close()


def chunks(source: str, sha256: str, count: int) -> list[Chunk]:
    doc_id = document_id(source)
    return [
        Chunk(
            chunk_id=chunk_id(doc_id, sha256, i),
            doc_id=doc_id,
            source=source,
            index=i,
            text=f"{sha256} {i}",
            title="a",
        )
        for i in range(count)
    ]


def test_only_the_documents_chunks_outside_keep_are_deleted(store: VectorStore) -> None:
    old, crashed, new = chunks("/kb/a.md", "v1", 3), chunks("/kb/a.md", "v2", 2), chunks("/kb/a.md", "v3", 2)
    other = chunks("/kb/b.md", "v1", 2)
    for batch in (old, crashed, new, other):
        store.upsert(batch, [[1.0, 0.0, 0.0, float(i)] for i in range(len(batch))])
    doc_id = new[0].doc_id
    store.delete_stale_chunks(doc_id, [c.chunk_id for c in new])
    assert store.chunk_counts() == {doc_id: 2, other[0].doc_id: 2}
    every = [c.chunk_id for c in old + crashed + new + other]
    assert {c.chunk_id for c in store.get(every)} == {c.chunk_id for c in new + other}
    store.delete_stale_chunks(doc_id, [])  # keep nothing: the whole document goes
    assert store.chunk_counts() == {other[0].doc_id: 2}
