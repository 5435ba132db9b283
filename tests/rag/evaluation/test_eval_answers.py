"""Judging answers: reference matching, evidence in cited chunks, and the summary metrics."""

from __future__ import annotations

from typing import Any

import pytest

from rag.embedding.local import SentenceTransformerEmbedder
from rag.evaluation.answers import AnswerJudge, contains_reference, normalise, summarise
from rag.evaluation.dataset import EvalQuery
from rag.types import Chunk


@pytest.mark.parametrize(
    ("text", "reference", "expected"),
    [
        ("You get 10 weeks [1].", "10 weeks", True),
        ("The list price is EUR 1,690.00.", "1690", True),
        ("Call +31 30 799 4100 for the bridge.", "+31 30 799 4100", True),
        ("You get 110 weeks.", "10 weeks", False),  # a longer number is a different number
        ("You get 12 weeks.", "10 weeks", False),
        ("", "10 weeks", False),
    ],
)
def test_reference_matching_is_exact_on_numbers(text: str, reference: str, expected: bool) -> None:
    assert contains_reference(text, reference) is expected


def test_normalise_folds_case_punctuation_and_thousands_separators() -> None:
    assert normalise("Price: 12,500 EUR!") == "price 12500 eur"


def _chunk(doc: str, text: str) -> Chunk:
    return Chunk(chunk_id=f"c-{doc}", doc_id=doc, source=doc, index=0, text=text, title=doc)


def test_a_citation_holds_evidence_only_when_its_chunk_has_the_answer(
    minilm: SentenceTransformerEmbedder,
) -> None:
    right = _chunk("handbook.pdf", "Staff receive 10 weeks of paid family leave.")
    same_file_other_passage = _chunk("handbook.pdf", "Holidays are agreed with your manager.")
    other_file = _chunk("faq.txt", "10 weeks of leave.")
    judge = AnswerJudge(minilm, lambda _: None, lambda c: c.source)
    query = EvalQuery("q", "leave?", {"handbook.pdf": 1}, reference="10 weeks")
    assert judge.citation_holds_evidence(right, query) == (True, True)
    assert judge.citation_holds_evidence(same_file_other_passage, query) == (True, False)
    assert judge.citation_holds_evidence(other_file, query) == (False, False)
    assert judge.citation_holds_evidence(None, query) == (False, False)


def test_correctness_is_semantic_only_for_references_without_numbers(
    minilm: SentenceTransformerEmbedder,
) -> None:
    judge = AnswerJudge(minilm, lambda _: None, lambda c: c.source)
    assert judge.correctness("It is 10 weeks [1].", "10 weeks") == "string"
    assert judge.correctness("It is ten weeks.", "10 weeks") is None
    assert judge.correctness("Contact the IT service desk [2].", "the IT service desk") == "string"
    assert (
        judge.correctness("You should contact the IT helpdesk.", "contact the IT service desk") == "semantic"
    )
    assert judge.correctness("Bananas are yellow.", "contact the IT service desk") is None


def _row(unanswerable: bool, refused: bool, evidence: list[bool], correct: bool | None) -> dict[str, Any]:
    return {
        "unanswerable": unanswerable,
        "refused": refused,
        "grounded": bool(evidence),
        "reference": None if unanswerable else "x",
        "correct": correct,
        "match": "string" if correct else None,
        "citations": [
            {"relevant_document": True, "holds_evidence": e, "quote_verbatim": True} for e in evidence
        ],
        "timings": {"first_token_ms": 100.0} if not refused else {},
    }


def test_summary_counts_refusals_citations_and_correctness() -> None:
    rows = [
        _row(False, False, [True, False], True),
        _row(False, False, [True], False),
        _row(False, True, [], False),
        _row(True, True, [], None),
        _row(True, False, [False], None),
    ]
    summary = summarise(rows)
    assert summary["refusal_accuracy"] == 0.5
    assert summary["false_refusal_rate"] == round(1 / 3, 4)
    assert summary["citation_precision"] == round(2 / 3, 4)  # the unanswerable one's citation is not counted
    assert summary["cited_relevant_document_rate"] == round(2 / 3, 4)
    assert summary["answer_correctness"] == round(1 / 3, 4)
    assert summary["median_first_token_ms"] == 100.0
