"""Calibrate the relevance gate (RAG_MIN_RELEVANCE) from answerable and unanswerable questions.

The gate refuses without calling the LLM when the closest passage's dense cosine similarity is below
the threshold. The right value depends on the embedder and the documents, so `rag eval` measures
where the two kinds of question fall and suggests the threshold that separates them best.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

from rag.evaluation.dataset import EvalQuery


def calibrate_gate(
    queries: Sequence[EvalQuery], best_similarity: Mapping[str, float | None], current: float
) -> dict[str, Any]:
    answerable = [s for q in queries if not q.unanswerable and (s := best_similarity.get(q.id)) is not None]
    unanswerable = [s for q in queries if q.unanswerable and (s := best_similarity.get(q.id)) is not None]
    if not answerable or not unanswerable:
        return {
            "available": False,
            "reason": "calibrating the gate needs both answerable and unanswerable questions",
        }

    def accuracy(threshold: float) -> float:
        kept = sum(1 for s in answerable if s >= threshold)
        refused = sum(1 for s in unanswerable if s < threshold)
        return round((kept + refused) / (len(answerable) + len(unanswerable)), 4)

    highest_unanswerable, lowest_answerable = max(unanswerable), min(answerable)
    separable = highest_unanswerable < lowest_answerable
    if separable:
        suggested = (highest_unanswerable + lowest_answerable) / 2  # the widest margin on both sides
    else:
        scores = sorted({*answerable, *unanswerable})
        candidates = [(a + b) / 2 for a, b in itertools.pairwise(scores)] or scores
        suggested = max(candidates, key=accuracy)
    return {
        "current": current,
        "current_accuracy": accuracy(current),
        "answerable_min": round(lowest_answerable, 4),
        "unanswerable_max": round(highest_unanswerable, 4),
        "separable": separable,
        "suggested": round(suggested, 3),
        "suggested_accuracy": accuracy(suggested),
    }
