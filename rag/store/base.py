"""The VectorStore interface, its request type, and the payload layout both implementations share."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from rag.types import Chunk, Hit, SearchFilters, SearchMode, StoreSpec

DENSE = "dense"
SPARSE = "sparse"
# Payload fields with an index: the ones we filter and facet by.
INDEXED_FIELDS = ("doc_id", "source", "file_type", "access")
# HNSW search breadth (RAG_HNSW_EF). bench/query.py, 1M clustered chunks: 100 (the engine's default)
# found 0.94 of the true top 10, 256 found 0.98, both at about 2 ms p95.
DEFAULT_HNSW_EF = 256
# Reciprocal-rank-fusion constant from the original paper; robust without tuning.
RRF_K = 60


@dataclass(frozen=True, slots=True)
class SearchRequest:
    text: str
    dense: Sequence[float] | None
    mode: SearchMode = "hybrid"
    limit: int = 5
    prefetch_limit: int = 50
    filters: SearchFilters = field(default_factory=SearchFilters)

    def __post_init__(self) -> None:
        if self.mode != "sparse" and self.dense is None:
            raise ValueError(f"a {self.mode} search needs a dense query vector")


class VectorStore(Protocol):
    """Chunks with a dense vector and a BM25 sparse vector each; hybrid search fuses both with RRF.

    The store computes the BM25 vectors itself from ``Chunk.embed_text`` so both implementations
    tokenise identically and the engine computes IDF from its own statistics.
    """

    spec: StoreSpec | None

    def upsert(self, chunks: Sequence[Chunk], vectors: Sequence[Sequence[float]]) -> None: ...

    def delete_points(self, chunk_ids: Sequence[str]) -> None: ...

    def delete_document(self, doc_id: str) -> None: ...

    def delete_stale_chunks(self, doc_id: str, keep: Sequence[str]) -> None:
        """Delete every chunk of ``doc_id`` whose id is not in ``keep`` (one filter, not a list of ids):
        after a re-ingest, also the chunks of earlier attempts that crashed before the ledger heard
        of them."""
        ...

    def set_source(self, doc_id: str, source: str, title: str) -> None:
        """Re-label a document's chunks (a renamed file) without re-embedding them."""
        ...

    def set_access(self, doc_id: str, access: Sequence[str]) -> None:
        """Set who may read a document's chunks (rag.access labels) without re-embedding them."""
        ...

    def search(self, request: SearchRequest) -> list[Hit]: ...

    def get(self, chunk_ids: Sequence[str]) -> list[Chunk]:
        """The chunks with these ids (unknown ids are left out), in the order asked."""
        ...

    def get_vectors(self, chunk_ids: Sequence[str]) -> list[tuple[Chunk, list[float]]]:
        """The chunks with these ids (unknown ids are left out) with their dense vectors, as stored
        (normalised for cosine): a file moved under workers reuses them instead of embedding again."""
        ...

    def count(self, filters: SearchFilters | None = None) -> int: ...

    def chunk_counts(self, filters: SearchFilters | None = None) -> dict[str, int]:
        """doc_id -> number of chunks, straight from the index (the ledger's cross-check; with
        ``filters``, the documents a caller may see)."""
        ...

    def drop(self) -> None:
        """Delete every chunk of this knowledge base (re-indexing); the files themselves are untouched."""
        ...

    def optimize(self) -> None: ...

    def close(self) -> None: ...


def chunk_payload(chunk: Chunk) -> dict[str, Any]:
    payload = {
        "doc_id": chunk.doc_id,
        "source": chunk.source,
        "index": chunk.index,
        "text": chunk.text,
        "title": chunk.title,
        "section": chunk.section,
        "page": chunk.page,
        "file_type": chunk.file_type,
        "sha256": chunk.sha256,
        "access": list(chunk.access),
    }
    if chunk.ocr:  # only then: the payload of every other chunk stays as it was
        payload["ocr"] = True
    return payload


def chunk_from_payload(point_id: object, payload: dict[str, Any]) -> Chunk:
    return Chunk(
        chunk_id=str(point_id),
        doc_id=str(payload["doc_id"]),
        source=str(payload["source"]),
        index=int(payload.get("index", 0)),
        text=str(payload.get("text", "")),
        title=str(payload.get("title", "")),
        section=payload.get("section"),
        page=payload.get("page"),
        file_type=str(payload.get("file_type", "")),
        sha256=str(payload.get("sha256", "")),
        access=tuple(str(label) for label in payload.get("access") or ()),
        ocr=bool(payload.get("ocr", False)),
    )


def dense_vector_of(vector: object) -> list[float] | None:
    """The dense vector in a retrieved point's named vectors (both engines answer a dict by name)."""
    dense = vector.get(DENSE) if isinstance(vector, dict) else None
    if not isinstance(dense, list) or not all(isinstance(x, int | float) for x in dense):
        return None
    return [float(x) for x in dense]


def check_spec(stored: StoreSpec, wanted: StoreSpec, where: str) -> None:
    if stored == wanted:
        return
    from rag.errors import StoreMismatchError

    if (stored.embedder, stored.dimension) == (wanted.embedder, wanted.dimension):
        raise StoreMismatchError(
            f"The knowledge base at {where} was built with an older keyword analysis ({stored.analyzer}; "
            f"this version uses {wanted.analyzer}). Rebuild it from the same files with `rag reindex`, "
            "or use another RAG_COLLECTION."
        )
    raise StoreMismatchError(
        f"The knowledge base at {where} was built with {stored.embedder} ({stored.dimension}-d vectors) "
        f"but RAG_EMBEDDER is {wanted.embedder} ({wanted.dimension}-d). Either set "
        f"RAG_EMBEDDER={stored.embedder} again, or re-index with the new embedder: `rag reindex` "
        "(re-reads every ingested file), or use another RAG_COLLECTION."
    )
