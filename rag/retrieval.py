"""Search the knowledge base: embed the query, ask the store (dense, BM25 or both fused), tidy the hits."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

from rag import sparse
from rag.embedding import Embedder
from rag.embedding.base import reads_only_english
from rag.errors import InputError
from rag.fusion import Fusion
from rag.store import SearchRequest, VectorStore
from rag.types import Hit, SearchFilters, SearchMode

MAX_QUERY_CHARS = 4000


@dataclass(frozen=True, slots=True)
class Retrieval:
    hits: list[Hit]
    best_similarity: float | None  # cosine of the closest passage by the dense vector; None in BM25 mode


class Retriever:
    def __init__(
        self, embedder: Embedder, store: VectorStore, prefetch_k: int = 50, fusion: Fusion | None = None
    ) -> None:
        self._embedder = embedder
        self._store = store
        self._prefetch_k = prefetch_k
        self.fusion = fusion or Fusion()
        self._english_only = reads_only_english(embedder.name.partition(":")[2] or embedder.name)

    @property
    def prefetch_k(self) -> int:
        """How deep each ranking goes before fusion (RAG_PREFETCH_K)."""
        return self._prefetch_k

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
        vector = self._embedder.embed_query(query) if mode != "sparse" else None
        # Over-fetch so that collapsing near-duplicates still leaves top_k distinct hits.
        limit = top_k * 2
        if mode != "hybrid":
            hits = self._store.search(SearchRequest(query, vector, mode, limit=limit, filters=filters))
            best = hits[0].score if mode == "dense" and hits else None
            return Retrieval(collapse_duplicates(hits)[:top_k], best if measure_similarity else None)
        # Each ranking is RAG_PREFETCH_K deep whatever top_k is: score fusion (DBSF) normalises over the
        # list it is given, so a deeper list would change the scores, not just add candidates.
        dense, sparse = self.rankings(query, self._prefetch_k, filters, vector)
        fused = self.fusion_for(query).fuse(dense, sparse, limit)
        best = dense[0].score if dense else None
        return Retrieval(collapse_duplicates(fused)[:top_k], best)

    def fusion_for(self, query: str) -> Fusion:
        """The fusion for this question: an English-only embedder's ranking of a question in Chinese,
        Japanese or Korean is left out (weight 0), as it only adds noise to the keyword ranking."""
        if self._english_only and sparse.mostly_cjk(query):
            return dataclasses.replace(self.fusion, dense_weight=0.0)
        return self.fusion

    def rankings(
        self,
        query: str,
        depth: int,
        filters: SearchFilters | None = None,
        vector: Sequence[float] | None = None,
    ) -> tuple[list[Hit], list[Hit]]:
        """The dense and the BM25 ranking that hybrid search fuses, each ``depth`` deep."""
        filters = filters or SearchFilters()
        vector = vector if vector is not None else self._embedder.embed_query(query)
        dense = self._store.search(SearchRequest(query, vector, "dense", limit=depth, filters=filters))
        sparse = self._store.search(SearchRequest(query, None, "sparse", limit=depth, filters=filters))
        return dense, sparse


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
