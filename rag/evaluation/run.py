"""One evaluation run over a built index (ingest/evaluation.py builds it): score every retrieval mode,
calibrate the relevance gate, and (with an LLM) judge the answers. Returns one JSON-ready dict."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from rag.errors import ServiceUnavailableError
from rag.evaluation.answers import AnswerJudge, evaluate_answers
from rag.evaluation.baseline import NaiveBaseline
from rag.evaluation.dataset import EvalDataset
from rag.evaluation.engine_bm25 import EngineTokenizerBm25
from rag.evaluation.gate import calibrate_gate
from rag.evaluation.index import EvalIndex, Progress
from rag.evaluation.retrieval_quality import evaluate_retrieval
from rag.gate import gate_for
from rag.rerank import CrossEncoderReranker

# (stage name) -> a progress callback for that stage, or None for no progress display.
StageProgress = Callable[[str], Progress | None]


def run_evaluation(
    dataset: EvalDataset,
    index: EvalIndex,
    *,
    with_answers: bool = True,
    baseline_documents: list[tuple[str, str]] | None = None,
    limit: int | None = None,
    progress: StageProgress = lambda stage: None,
) -> dict[str, Any]:
    queries = dataset.queries[:limit] if limit else dataset.queries
    baseline = (
        NaiveBaseline(baseline_documents, index.kb.embedder, progress("Baseline"))
        if baseline_documents is not None
        else None
    )
    return _evaluate(dataset, index, queries, with_answers, progress, baseline)


def _evaluate(
    dataset: EvalDataset,
    index: EvalIndex,
    queries: list[Any],
    with_answers: bool,
    progress: StageProgress,
    baseline: NaiveBaseline | None = None,
) -> dict[str, Any]:
    kb = index.kb
    settings = kb.settings
    reranker = CrossEncoderReranker(settings.reranker) if settings.reranker else None
    start = time.perf_counter()
    engine_keywords = EngineTokenizerBm25(kb.store.get(index.chunk_ids)) if index.chunk_ids else None
    retrieval = evaluate_retrieval(
        kb.retriever(), queries, index.key_of, reranker, progress("Retrieving"), baseline, engine_keywords
    )
    retrieval_seconds = time.perf_counter() - start
    gate = gate_for(settings, kb.embedder.name)
    result: dict[str, Any] = {
        "dataset": {
            "path": str(dataset.path),
            "format": dataset.kind,
            "documents": index.documents,
            "chunks": index.chunks,
            "queries": len(queries),
            "judged_queries": sum(1 for q in queries if q.relevant),
            "unanswerable_queries": sum(1 for q in queries if q.unanswerable),
        },
        "embedder": kb.embedder.name,
        "index_failures": index.failed,
        "retrieval": retrieval.modes,
        "relevance_gate": calibrate_gate(
            queries, retrieval.gate_signals, (gate.min_relevance, gate.min_keyword_share)
        ),
        "timings_s": {"index": index.seconds, "retrieval": round(retrieval_seconds, 2)},
    }
    start = time.perf_counter()
    result["answers"] = _answers(index, queries, with_answers, progress)
    if result["answers"].get("available"):
        result["timings_s"]["answers"] = round(time.perf_counter() - start, 2)
    result["per_query"] = retrieval.per_query
    return result


def _answers(index: EvalIndex, queries: list[Any], wanted: bool, progress: StageProgress) -> dict[str, Any]:
    kb = index.kb
    if not wanted:
        return {"available": False, "reason": "skipped (--no-answers)"}
    generator = kb.generator
    if generator is None:
        return {"available": False, "reason": "RAG_LLM is none: set an LLM to evaluate answers"}
    try:
        generator.check()
    except ServiceUnavailableError as exc:
        return {"available": False, "reason": exc.message}

    def chunk_of(chunk_id: str) -> Any:
        found = kb.store.get([chunk_id])
        return found[0] if found else None

    judge = AnswerJudge(kb.embedder, chunk_of, index.key_of)
    report = evaluate_answers(kb.answer_service(), queries, judge, progress("Answering"))
    return {"model": kb.settings.llm, **report}
