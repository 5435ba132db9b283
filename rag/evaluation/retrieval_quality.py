"""Retrieval quality of each mode, side by side, on the same index and the same queries.

Every mode goes through the product's own Retriever (the path `rag search` and answers use); chunk
hits are collapsed to documents, because the judgments are per document.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from rag.evaluation.dataset import EvalQuery
from rag.evaluation.index import Progress
from rag.evaluation.metrics import first_relevant_rank, mean_scores, retrieval_scores
from rag.rerank import CrossEncoderReranker
from rag.retrieval import Retriever
from rag.store.base import SearchMode
from rag.types import Chunk, Hit

# Mode names as people know them -> the store's names.
MODES: dict[str, SearchMode] = {"dense": "dense", "bm25": "sparse", "hybrid": "hybrid"}
RERANKED = "hybrid+rerank"
# Chunks fetched per query: enough to fill ten distinct documents in nearly every case.
CANDIDATE_CHUNKS = 50
# How many hybrid chunks the cross-encoder re-scores (the same depth answers use).
RERANK_DEPTH = 20


@dataclass(slots=True)
class ModeResult:
    scores: list[dict[str, float]] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> dict[str, Any]:
        n = len(self.scores)
        return {**mean_scores(self.scores), "ms_per_query": round(1000 * self.seconds / n, 1) if n else 0.0}


@dataclass(slots=True)
class RetrievalEvaluation:
    modes: dict[str, dict[str, Any]]
    per_query: list[dict[str, Any]]
    # Dense cosine of the closest passage for every query (answerable or not): the relevance gate's input.
    best_similarity: dict[str, float | None]


def documents_ranked(hits: Sequence[Hit], key_of: Callable[[Chunk], str]) -> list[str]:
    ranked: list[str] = []
    for hit in hits:
        key = key_of(hit.chunk)
        if key not in ranked:
            ranked.append(key)
    return ranked


def evaluate_retrieval(
    retriever: Retriever,
    queries: Sequence[EvalQuery],
    key_of: Callable[[Chunk], str],
    reranker: CrossEncoderReranker | None,
    on_progress: Progress | None = None,
) -> RetrievalEvaluation:
    results = {name: ModeResult() for name in [*MODES, RERANKED]}
    per_query: list[dict[str, Any]] = []
    best: dict[str, float | None] = {}
    for done, query in enumerate(queries, start=1):
        ranks: dict[str, int | None] = {}
        hits_by_mode: dict[str, list[Hit]] = {}
        for name, mode in MODES.items():
            if not query.relevant and name != "dense":
                continue  # unanswerable: only the dense similarity matters (for the gate)
            start = time.perf_counter()
            hits = retriever.search(query.text, top_k=CANDIDATE_CHUNKS, mode=mode)
            results[name].seconds += time.perf_counter() - start
            hits_by_mode[name] = hits
        best[query.id] = hits_by_mode["dense"][0].score if hits_by_mode["dense"] else None
        if query.relevant:
            for name, hits in hits_by_mode.items():
                ranks[name] = _score(results[name], documents_ranked(hits, key_of), query)
            if reranker is not None:
                hybrid = hits_by_mode["hybrid"]
                start = time.perf_counter()
                reranked = reranker.rerank(query.text, hybrid[:RERANK_DEPTH]) + hybrid[RERANK_DEPTH:]
                results[RERANKED].seconds += time.perf_counter() - start
                ranks[RERANKED] = _score(results[RERANKED], documents_ranked(reranked, key_of), query)
            per_query.append({"id": query.id, "first_relevant_rank": ranks})
        if on_progress:
            on_progress(done, len(queries), query.id)
    modes = {name: results[name].summary() for name in MODES}
    if reranker is None:
        modes[RERANKED] = {
            "available": False,
            "reason": "RAG_RERANKER is not set; set it to a cross-encoder (e.g. a local copy of "
            "cross-encoder/ms-marco-MiniLM-L-6-v2) to evaluate reranking.",
        }
    else:
        summary = results[RERANKED].summary()
        # The reranked mode runs the hybrid search first: its latency includes it.
        summary["ms_per_query"] = round(summary["ms_per_query"] + modes["hybrid"]["ms_per_query"], 1)
        modes[RERANKED] = {**summary, "reranker": reranker.name}
    return RetrievalEvaluation(modes, per_query, best)


def _score(result: ModeResult, ranked: list[str], query: EvalQuery) -> int | None:
    result.scores.append(retrieval_scores(ranked, query.relevant))
    return first_relevant_rank(ranked, query.relevant)
