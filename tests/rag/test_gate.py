"""The relevance gate: similarity or keywords let a question through; the refusal says why."""

from __future__ import annotations

from rag.gate import RelevanceGate, keyword_share
from rag.types import Chunk, Hit

GATE = RelevanceGate(min_relevance=0.45, min_keyword_share=0.6)


def passage(text: str, source: str = "/docs/runtime-config-wal.html") -> Hit:
    return Hit(Chunk(chunk_id="c", doc_id="d", source=source, index=0, text=text, title="WAL"), 0.1)


WAL = passage("max_wal_size is the maximum size to let the WAL grow during automatic checkpoints.")


def test_a_close_passage_lets_the_question_through() -> None:
    decision = GATE.decide("How big can the WAL get?", [WAL], similarity=0.52)
    assert not decision.refuse and decision.reason is None


def test_keywords_let_a_question_through_that_the_small_embedder_scores_low() -> None:
    decision = GATE.decide("What does max_wal_size limit?", [WAL], similarity=0.30)
    assert not decision.refuse and decision.keyword_share >= 0.6


def test_neither_similarity_nor_keywords_refuses_and_says_what_was_closest() -> None:
    decision = GATE.decide("Which football team does the CEO support?", [WAL], similarity=0.12)
    assert decision.refuse
    assert decision.reason is not None
    assert "runtime-config-wal.html" in decision.reason and "RAG_MIN_RELEVANCE" in decision.reason


def test_the_refusal_never_shows_a_similarity_equal_to_the_threshold() -> None:
    decision = GATE.decide("Which football team?", [WAL], similarity=0.4497)
    assert decision.reason is not None
    assert "similarity 0.450 (RAG_MIN_RELEVANCE is 0.450)" not in decision.reason
    assert "similarity 0.4497" in decision.reason and "is 0.4500" in decision.reason


def test_no_passage_refuses() -> None:
    assert GATE.decide("anything", [], similarity=None).refuse


def test_keyword_share_takes_the_best_single_passage() -> None:
    other = passage("Checkpoints are written every checkpoint_timeout seconds.")
    assert keyword_share("max_wal_size checkpoint", [other, WAL]) == 1.0
