"""Search the knowledge base: embed the query, ask the store (dense, BM25 or both fused), tidy the hits."""

from __future__ import annotations

from dataclasses import dataclass

from rag.embedding import Embedder
from rag.errors import InputError
from rag.store import SearchRequest, VectorStore
from rag.store.base import SearchMode
from rag.types import Hit, SearchFilters

MAX_QUERY_CHARS = 4000


@dataclass(frozen=True, slots=True)
class Retrieval:
    hits: list[Hit]
    best_similarity: float | None  # cosine of the closest passage by the dense vector; None in BM25 mode


class Retriever:
    def __init__(self, embedder: Embedder, store: VectorStore, prefetch_k: int = 50) -> None:
        self._embedder = embedder
        self._store = store
        self._prefetch_k = prefetch_k

    def search(
        self,
        query: str,
        top_k: int = 5,
        mode: SearchMode = "hybrid",
        filters: SearchFilters | None = None,
    ) -> list[Hit]:
        return self.retrieve(query, top_k, mode, filters, measure_similarity=False).hits

    def retrieve(
        self,
        query: str,
        top_k: int = 5,
        mode: SearchMode = "hybrid",
        filters: SearchFilters | None = None,
        measure_similarity: bool = True,
    ) -> Retrieval:
        """The best ``top_k`` distinct passages, and (for the confidence gate) how close the closest
        passage is to the query by meaning alone: fused RRF scores say nothing about that."""
        query = query.strip()
        if not query:
            raise InputError('The query is empty: ask something, e.g. `rag search "refund policy"`.')
        if len(query) > MAX_QUERY_CHARS:
            raise InputError(f"The query is {len(query)} characters long; keep it under {MAX_QUERY_CHARS}.")
        if top_k < 1:
            raise InputError("top_k must be at least 1.")
        filters = filters or SearchFilters()
        dense = self._embedder.embed_query(query) if mode != "sparse" else None
        # Over-fetch so that collapsing near-duplicates still leaves top_k distinct hits.
        hits = self._store.search(
            SearchRequest(
                text=query,
                dense=dense,
                mode=mode,
                limit=top_k * 2,
                prefetch_limit=max(self._prefetch_k, top_k * 2),
                filters=filters,
            )
        )
        best: float | None = None
        if measure_similarity and dense is not None:
            if mode == "dense":
                best = hits[0].score if hits else None
            else:
                closest = self._store.search(
                    SearchRequest(text=query, dense=dense, mode="dense", limit=1, filters=filters)
                )
                best = closest[0].score if closest else None
        return Retrieval(collapse_duplicates(hits)[:top_k], best)


def collapse_duplicates(hits: list[Hit]) -> list[Hit]:
    """The same boilerplate in several documents (a licence page, a disclaimer) would fill every slot;
    keep the best-ranked copy of each text."""
    seen: set[str] = set()
    kept: list[Hit] = []
    for hit in hits:
        key = " ".join(hit.chunk.text.lower().split())
        if key in seen:
            continue
        seen.add(key)
        kept.append(hit)
    return kept
