"""Calibrate the relevance gate (RAG_MIN_RELEVANCE, RAG_MIN_KEYWORD_SHARE) on labelled questions.

The gate refuses without calling the LLM when the closest passage is neither similar enough nor holds
enough of the question's keywords (rag.gate). A wrong refusal of an answerable question is the worse
error (the LLM gets the chance to refuse a near-miss itself), so the suggestion is the pair of
thresholds that refuses the most unanswerable questions while refusing at most MAX_FALSE_REFUSALS of
the answerable ones.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rag.evaluation.dataset import EvalQuery

MAX_FALSE_REFUSALS = 0.05
_SHARES = (0.4, 0.5, 0.6, 0.67, 0.75, 0.8, 1.0, 1.01)  # 1.01: the keyword check off


@dataclass(frozen=True, slots=True)
class GateSignals:
    similarity: float | None
    keyword_share: float


def calibrate_gate(
    queries: Sequence[EvalQuery],
    signals: Mapping[str, GateSignals],
    current: tuple[float, float],
) -> dict[str, Any]:
    answerable = [signals[q.id] for q in queries if not q.unanswerable and q.id in signals]
    unanswerable = [signals[q.id] for q in queries if q.unanswerable and q.id in signals]
    if not answerable or not unanswerable:
        return {
            "available": False,
            "reason": "calibrating the gate needs both answerable and unanswerable questions",
        }

    def refused(s: GateSignals, relevance: float, share: float) -> bool:
        close = s.similarity is not None and s.similarity >= relevance
        return not close and s.keyword_share < share

    def rates(relevance: float, share: float) -> dict[str, float]:
        return {
            "false_refusal_rate": round(
                sum(refused(s, relevance, share) for s in answerable) / len(answerable), 4
            ),
            "unanswerable_refused": round(
                sum(refused(s, relevance, share) for s in unanswerable) / len(unanswerable), 4
            ),
        }

    similarities = sorted(
        {round(s.similarity, 3) for s in [*answerable, *unanswerable] if s.similarity is not None}
    )
    candidates = [(r, share) for r in [*similarities, 1.01] for share in _SHARES]
    allowed = [c for c in candidates if rates(*c)["false_refusal_rate"] <= MAX_FALSE_REFUSALS]
    # Most unanswerable refused; among equals, the lowest thresholds (the fewest answerable near the edge).
    best = max(allowed, key=lambda c: (rates(*c)["unanswerable_refused"], -c[0], -c[1]), default=None)
    answerable_similarity = sorted(s.similarity for s in answerable if s.similarity is not None)
    unanswerable_similarity = sorted(s.similarity for s in unanswerable if s.similarity is not None)
    return {
        "current": {"min_relevance": current[0], "min_keyword_share": current[1], **rates(*current)},
        "suggested": None
        if best is None
        else {"min_relevance": best[0], "min_keyword_share": best[1], **rates(*best)},
        "answerable_similarity": _spread(answerable_similarity),
        "unanswerable_similarity": _spread(unanswerable_similarity),
        "max_false_refusals": MAX_FALSE_REFUSALS,
    }


def _spread(values: Sequence[float]) -> dict[str, float] | None:
    if not values:
        return None

    def at(q: float) -> float:
        return round(values[min(len(values) - 1, int(q * len(values)))], 4)

    return {"min": round(values[0], 4), "p05": at(0.05), "median": at(0.5), "max": round(values[-1], 4)}
