"""Retrieval quality of each mode, side by side, on the same index and the same queries.

The dense, BM25 and hybrid rows go through the product's own Retriever (the path `rag search` and
answers use). The fusion variants re-fuse the very dense and BM25 rankings the hybrid row fused, so
they differ only in the fusion. The naive baseline, when given, ranks its own plain windows.

Two levels of judgment:
- documents (recall@k, MRR@10, nDCG@10): chunk hits collapsed to their document, as BEIR does;
- passages (passage@k, passage MRR@10), where the dataset gives an evidence span: the rank of the
  first passage that holds the evidence (rag.evaluation.evidence). A big manual page is easy to find
  as a document; the passage that answers is what the LLM needs.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from rag.evaluation.dataset import EvalQuery
from rag.evaluation.evidence import holds_evidence
from rag.evaluation.gate import GateSignals
from rag.evaluation.index import Progress
from rag.evaluation.metrics import first_relevant_rank, retrieval_scores
from rag.fusion import Fusion
from rag.gate import KEYWORD_PASSAGES, keyword_share
from rag.rerank import CrossEncoderReranker
from rag.retrieval import Retriever, collapse_duplicates
from rag.types import Chunk, Hit, SearchMode

# Mode names as people know them -> the store's names.
MODES: dict[str, SearchMode] = {"dense": "dense", "bm25": "sparse", "hybrid": "hybrid"}
RERANKED = "hybrid+rerank"
BASELINE = "naive baseline"
BASELINE_BM25 = "naive bm25 (rank-bm25)"
# The keyword search before our own analysis, over the same chunks (rag/evaluation/engine_bm25.py).
ENGINE_BM25 = "bm25, engine tokenizer (before)"
ENGINE_HYBRID = "hybrid, engine tokenizer (before)"
# Chunks fetched per query: enough to fill ten distinct documents in nearly every case.
CANDIDATE_CHUNKS = 50
# How many hybrid chunks the cross-encoder re-scores (the same depth answers use).
RERANK_DEPTH = 20
# Fusion methods measured beside the default: (name, fusion, candidates per retriever).
FUSION_VARIANTS: list[tuple[str, Fusion, int]] = [
    ("rrf k=60", Fusion("rrf", 60), 50),
    ("rrf k=60 prefetch 100", Fusion("rrf", 60), 100),
    ("rrf k=10", Fusion("rrf", 10), 50),
    ("rrf k=2", Fusion("rrf", 2), 50),
    ("rrf k=60 dense x2", Fusion("rrf", 60, 1.0, 0.5), 50),
    ("rrf k=60 bm25 x2", Fusion("rrf", 60, 0.5, 1.0), 50),
    ("dbsf", Fusion("dbsf"), 50),
    ("dbsf dense x2", Fusion("dbsf", dense_weight=1.0, sparse_weight=0.5), 50),
]
PASSAGE_METRICS = ("passage@1", "passage@5", "passage@10", "passage_mrr@10")


class KeywordRanking(Protocol):
    """Another keyword search over the index's own chunks: the engine's tokenizer, as before."""

    def search(self, query: str, limit: int) -> list[Hit]: ...


class RankedPassages(Protocol):
    """Anything that ranks (document key, passage text) pairs for a query: the naive baseline."""

    def search(self, query: str, limit: int) -> list[tuple[str, str]]: ...

    def search_bm25(self, query: str, limit: int) -> list[tuple[str, str]]: ...


@dataclass(slots=True)
class ModeResult:
    scores: list[dict[str, float]] = field(default_factory=list)
    passage_scores: list[dict[str, float]] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    passage_kinds: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def add(self, ranked: list[tuple[str, str]], query: EvalQuery) -> int | None:
        documents: list[str] = []
        for key, _ in ranked:
            if key not in documents:
                documents.append(key)
        self.scores.append(retrieval_scores(documents, query.relevant))
        self.kinds.append(query.kind)
        if query.evidence:
            evidence = query.evidence
            rank = next(
                (
                    i
                    for i, (key, text) in enumerate(ranked, 1)
                    if key in query.relevant and holds_evidence(text, evidence)
                ),
                None,
            )
            self.passage_kinds.append(query.kind)
            self.passage_scores.append(
                {
                    "passage@1": float(rank is not None and rank <= 1),
                    "passage@5": float(rank is not None and rank <= 5),
                    "passage@10": float(rank is not None and rank <= 10),
                    "passage_mrr@10": 1.0 / rank if rank is not None and rank <= 10 else 0.0,
                }
            )
        return first_relevant_rank(documents, query.relevant)

    def summary(self) -> dict[str, Any]:
        n = len(self.scores)
        result: dict[str, Any] = {**_mean(self.scores), **_mean(self.passage_scores)}
        by_kind: dict[str, list[dict[str, float]]] = defaultdict(list)
        for kind, scores in zip(self.kinds, self.scores, strict=True):
            if kind:
                by_kind[kind].append(scores)
        if by_kind:
            result["recall@5_by_type"] = {k: _mean(v)["recall@5"] for k, v in sorted(by_kind.items())}
        by_kind = defaultdict(list)
        for kind, scores in zip(self.passage_kinds, self.passage_scores, strict=True):
            if kind:
                by_kind[kind].append(scores)
        if by_kind:
            result["passage@5_by_type"] = {k: _mean(v)["passage@5"] for k, v in sorted(by_kind.items())}
        result["ms_per_query"] = round(1000 * self.seconds / n, 1) if n else 0.0
        return result


@dataclass(slots=True)
class RetrievalEvaluation:
    modes: dict[str, dict[str, Any]]
    per_query: list[dict[str, Any]]
    # What the relevance gate sees for every query (answerable or not): its calibration's input.
    gate_signals: dict[str, GateSignals]


def evaluate_retrieval(
    retriever: Retriever,
    queries: Sequence[EvalQuery],
    key_of: Callable[[Chunk], str],
    reranker: CrossEncoderReranker | None,
    on_progress: Progress | None = None,
    baseline: RankedPassages | None = None,
    engine_keywords: KeywordRanking | None = None,
) -> RetrievalEvaluation:
    variants = [(f"fusion: {name}", fusion, depth) for name, fusion, depth in FUSION_VARIANTS]
    names = [*MODES, *(name for name, _, _ in variants), RERANKED, BASELINE, BASELINE_BM25]
    names += [ENGINE_BM25, ENGINE_HYBRID]
    results = {name: ModeResult() for name in names}
    per_query: list[dict[str, Any]] = []
    signals: dict[str, GateSignals] = {}

    def passages(hits: Sequence[Hit]) -> list[tuple[str, str]]:
        return [(key_of(hit.chunk), hit.chunk.text) for hit in hits]

    for done, query in enumerate(queries, start=1):
        hits_by_mode: dict[str, list[Hit]] = {}
        for name, mode in MODES.items():
            if not query.relevant and name == "bm25":
                continue  # unanswerable: only what the gate sees (dense similarity, hybrid keywords) matters
            start = time.perf_counter()
            retrieval = retriever.retrieve(query.text, top_k=CANDIDATE_CHUNKS, mode=mode)
            results[name].seconds += time.perf_counter() - start
            hits_by_mode[name] = retrieval.hits
        similarity = hits_by_mode["dense"][0].score if hits_by_mode["dense"] else None
        signals[query.id] = GateSignals(
            similarity, keyword_share(query.text, hits_by_mode["hybrid"][:KEYWORD_PASSAGES])
        )
        if not query.relevant:
            if on_progress:
                on_progress(done, len(queries), query.id)
            continue
        ranks: dict[str, int | None] = {}
        for name, hits in hits_by_mode.items():
            ranks[name] = results[name].add(passages(hits), query)
        # The variants re-fuse the same two rankings, fetched as deep as the deepest variant asks.
        dense, sparse = retriever.rankings(query.text, max(depth for _, _, depth in variants))
        for name, fusion, depth in variants:
            start = time.perf_counter()
            fused = collapse_duplicates(fusion.fuse(dense[:depth], sparse[:depth], CANDIDATE_CHUNKS))
            results[name].seconds += time.perf_counter() - start
            ranks[name] = results[name].add(passages(fused), query)
        if engine_keywords is not None:
            start = time.perf_counter()
            old = engine_keywords.search(query.text, retriever.prefetch_k)
            results[ENGINE_BM25].seconds += time.perf_counter() - start
            ranks[ENGINE_BM25] = results[ENGINE_BM25].add(passages(old[:CANDIDATE_CHUNKS]), query)
            start = time.perf_counter()
            fused = retriever.fusion.fuse(dense[: retriever.prefetch_k], old, CANDIDATE_CHUNKS)
            results[ENGINE_HYBRID].seconds += time.perf_counter() - start
            ranks[ENGINE_HYBRID] = results[ENGINE_HYBRID].add(passages(collapse_duplicates(fused)), query)
        if reranker is not None:
            hybrid = hits_by_mode["hybrid"]
            start = time.perf_counter()
            reranked = reranker.rerank(query.text, hybrid[:RERANK_DEPTH]) + hybrid[RERANK_DEPTH:]
            results[RERANKED].seconds += time.perf_counter() - start
            ranks[RERANKED] = results[RERANKED].add(passages(reranked), query)
        if baseline is not None:
            start = time.perf_counter()
            ranked = baseline.search(query.text, CANDIDATE_CHUNKS)
            results[BASELINE].seconds += time.perf_counter() - start
            ranks[BASELINE] = results[BASELINE].add(ranked, query)
            start = time.perf_counter()
            ranked = baseline.search_bm25(query.text, CANDIDATE_CHUNKS)
            results[BASELINE_BM25].seconds += time.perf_counter() - start
            ranks[BASELINE_BM25] = results[BASELINE_BM25].add(ranked, query)
        per_query.append({"id": query.id, "type": query.kind, "first_relevant_rank": ranks})
        if on_progress:
            on_progress(done, len(queries), query.id)

    modes = {name: results[name].summary() for name in MODES}
    modes["hybrid"]["fusion"] = retriever.fusion.label
    for name, fusion, depth in variants:
        summary = results[name].summary()
        # A variant re-fuses two rankings like the hybrid row's: its cost is that search plus the fusion.
        summary["ms_per_query"] = round(summary["ms_per_query"] + modes["hybrid"]["ms_per_query"], 1)
        modes[name] = {**summary, "fusion": fusion.label, "prefetch": depth}
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
    if engine_keywords is not None:
        modes[ENGINE_BM25] = results[ENGINE_BM25].summary()
        old_hybrid = results[ENGINE_HYBRID].summary()
        # Its cost: the dense search, the old keyword search, and the fusion.
        spent = sum(m["ms_per_query"] for m in (old_hybrid, modes["dense"], modes[ENGINE_BM25]))
        modes[ENGINE_HYBRID] = {
            **old_hybrid,
            "ms_per_query": round(spent, 1),
            "fusion": retriever.fusion.label,
        }
    if baseline is not None:
        modes[BASELINE] = {**results[BASELINE].summary(), "description": str(baseline)}
        modes[BASELINE_BM25] = results[BASELINE_BM25].summary()
    return RetrievalEvaluation(modes, per_query, signals)


def _mean(per_query: Sequence[dict[str, float]]) -> dict[str, float]:
    if not per_query:
        return {}
    return {name: round(sum(q[name] for q in per_query) / len(per_query), 4) for name in per_query[0]}
