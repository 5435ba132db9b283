"""The relevance gate: refuse without calling the LLM only when the documents clearly lack the answer.

Two kinds of evidence, because each fails alone: the dense similarity of the closest passage (a
paraphrased question shares few words with its answer, but means the same) and the share of the
question's keywords that one of the best passages contains (a question about `max_wal_size` is
answerable when a passage names it, however the small embedder scores it). A question passes when
either is strong enough; everything that passes goes to the LLM, whose instructions tell it to
refuse when the passages do not hold the answer, so near-misses are the model's call, not ours.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rag import sparse
from rag.config import Settings
from rag.labels import file_name, place
from rag.types import Hit, ModelRef

# How many of the best passages the keyword check looks into.
KEYWORD_PASSAGES = 3
# Similarity thresholds measured per embedder on the real-document dev set (tests/devsets/en, dev
# split): the value that keeps false refusals of answerable questions at or under 5%.
_MEASURED_MIN_RELEVANCE = {"all-minilm-l6-v2": 0.424}
_FALLBACK_MIN_RELEVANCE = 0.5
_DEFAULT_MIN_KEYWORD_SHARE = 0.6


def min_relevance(settings: Settings, embedder_name: str) -> float:
    """RAG_MIN_RELEVANCE if set, else the value measured for this embedder."""
    if settings.min_relevance is not None:
        return settings.min_relevance
    return _MEASURED_MIN_RELEVANCE.get(ModelRef.of(embedder_name).basename, _FALLBACK_MIN_RELEVANCE)


def gate_for(settings: Settings, embedder_name: str) -> RelevanceGate:
    share = settings.min_keyword_share
    return RelevanceGate(
        min_relevance(settings, embedder_name), _DEFAULT_MIN_KEYWORD_SHARE if share is None else share
    )


@dataclass(frozen=True, slots=True)
class GateDecision:
    refuse: bool
    similarity: float | None  # dense cosine of the closest passage (None in BM25-only mode)
    keyword_share: float  # the largest share of the question's keywords one passage contains
    reason: str | None = None  # for a refusal: what was closest, and what would let it through


@dataclass(frozen=True, slots=True)
class RelevanceGate:
    min_relevance: float  # RAG_MIN_RELEVANCE
    min_keyword_share: float  # RAG_MIN_KEYWORD_SHARE

    def decide(self, question: str, hits: Sequence[Hit], similarity: float | None) -> GateDecision:
        if not hits:
            return GateDecision(True, similarity, 0.0, "no passage matched the question")
        share = keyword_share(question, hits[:KEYWORD_PASSAGES])
        if similarity is not None and similarity >= self.min_relevance:
            return GateDecision(False, similarity, share)
        if share >= self.min_keyword_share:
            return GateDecision(False, similarity, share)
        return GateDecision(True, similarity, share, self._reason(hits[0], similarity, share))

    def _reason(self, closest: Hit, similarity: float | None, share: float) -> str:
        where = place(file_name(closest.chunk.source), closest.chunk.page or None)
        measured = (
            f"similarity {_shown(similarity, self.min_relevance)} (RAG_MIN_RELEVANCE is "
            f"{_shown(self.min_relevance, similarity)})"
            if similarity is not None
            else "BM25 only"
        )
        return (
            f"the closest passage ({where}) is not close enough: {measured}, and it holds "
            f"{share:.0%} of the question's keywords (RAG_MIN_KEYWORD_SHARE is "
            f"{self.min_keyword_share:.0%}). "
            "If your documents do answer this, lower RAG_MIN_RELEVANCE; `rag eval` suggests a value "
            "measured on your own questions."
        )


def keyword_share(question: str, passages: Sequence[Hit]) -> float:
    """The largest share of the question's distinct keywords that one passage (with its heading) holds."""
    wanted = set(sparse.analyze(question))
    if not wanted:
        return 0.0
    return max(len(wanted & set(sparse.analyze(hit.chunk.embed_text))) / len(wanted) for hit in passages)


def _shown(value: float | None, other: float | None) -> str:
    """``value`` with enough decimals to differ visibly from ``other`` (never "0.45 below 0.45")."""
    if value is None:
        return "n/a"
    for decimals in range(2, 7):
        text = f"{value:.{decimals}f}"
        if other is None or text != f"{other:.{decimals}f}":
            return text
    return f"{value:.6f}"
