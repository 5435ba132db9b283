"""Judging answers: reference matching, evidence in cited chunks, and the summary metrics."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from rag.embedding.base import Vector
from rag.embedding.local import SentenceTransformerEmbedder
from rag.evaluation.answers import AnswerJudge, contains_reference, normalise, outcome, summarise
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


def _row(
    unanswerable: bool,
    refused: bool,
    evidence: list[bool],
    correct: bool | None,
    *,
    kind: str = "",
    supports: list[bool] | None = None,
    origins: list[str] | None = None,
    unsupported: list[str] | None = None,
) -> dict[str, Any]:
    supports = evidence if supports is None else supports
    origins = origins or ["model"] * len(evidence)
    return {
        "kind": kind or ("unanswerable" if unanswerable else "answerable"),
        "unanswerable": unanswerable,
        "refused": refused,
        "grounded": bool(evidence),
        "reference": None if unanswerable else "x",
        "correct": correct,
        "match": "string" if correct else None,
        "citations": [
            {
                "relevant_document": True,
                "holds_evidence": e,
                "supports_answer": s,
                "origin": o,
                "quote_verbatim": True,
            }
            for e, s, o in zip(evidence, supports, origins, strict=True)
        ],
        "unsupported": unsupported or [],
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
    assert summary["support_precision"] == round(2 / 3, 4)
    assert summary["cited_relevant_document_rate"] == round(2 / 3, 4)
    assert summary["answer_correctness"] == round(1 / 3, 4)
    assert summary["median_first_token_ms"] == 100.0
    assert (summary["withheld_answerable"], summary["withheld_unanswerable"]) == (0, 0)


def test_summary_counts_withheld_answers_as_refusals_on_each_side() -> None:
    rows = [
        _row(False, True, [], None) | {"withheld": True},  # an answerable question's answer withheld
        _row(False, False, [True], True),
        _row(True, True, [], None) | {"withheld": True},  # an unanswerable one's
        _row(True, True, [], None),  # refused by the gate or the model itself
    ]
    summary = summarise(rows)
    assert (summary["withheld_answerable"], summary["withheld_unanswerable"]) == (1, 1)
    assert (summary["refusal_accuracy"], summary["false_refusal_rate"]) == (1.0, 0.5)


class _NoEmbedder:
    """The support judgment needs no embeddings: any call is a test failure."""

    name = "none"
    dimension = 0
    max_tokens = 0

    def count_tokens(self, text: str) -> int:
        raise AssertionError("not used")

    def embed_documents(self, texts: Sequence[str]) -> list[Vector]:
        raise AssertionError("not used")

    def embed_query(self, text: str) -> Vector:
        raise AssertionError("not used")

    def close(self) -> None:
        pass


EVIDENCE = "Defaults to the value of the PGCTLTIMEOUT environment variable or, if not set, to 60 seconds."


def _judge() -> AnswerJudge:
    return AnswerJudge(_NoEmbedder(), lambda _: None, lambda c: c.source)


def _query(evidence: str | None = EVIDENCE, reference: str | None = "60 seconds") -> EvalQuery:
    return EvalQuery("q", "timeout?", {"pg_ctl.txt": 1}, reference=reference, evidence=evidence)


def test_a_citation_supports_the_answer_when_its_chunk_holds_the_evidence_span() -> None:
    reflowed = _chunk(
        "pg_ctl.txt",
        "-t seconds\n  --timeout=seconds\n    Specifies the maximum number of seconds to wait. DEFAULTS to "
        "the value of the\n  PGCTLTIMEOUT environment variable or, if not set, to 60 seconds.",
    )
    assert _judge().citation_supports(reflowed, _query()) is True


def test_a_chunk_holding_the_larger_part_of_a_split_evidence_span_supports_it() -> None:
    # Chunking cut the span after "if": the first chunk holds 11 of its 16 words, the second 5.
    first = _chunk(
        "pg_ctl.txt", "Sets the wait. Defaults to the value of the PGCTLTIMEOUT environment variable or, if"
    )
    second = _chunk("pg_ctl.txt", "not set, to 60 seconds. Exit status is zero on success.")
    assert _judge().citation_supports(first, _query()) is True
    assert _judge().citation_supports(second, _query()) is False


def test_the_reference_answer_alone_does_not_make_a_chunk_hold_the_evidence() -> None:
    # "60 seconds" is here, but not the statement the question is about.
    other = _chunk("pg_ctl.txt", "The server checks the lock file every 60 seconds.")
    judge = _judge()
    assert judge.citation_supports(other, _query()) is False
    # Without an evidence span the reference answer is all there is to judge by, as before.
    assert judge.citation_supports(other, _query(evidence=None)) is True
    assert judge.citation_supports(_chunk("pg_ctl.txt", "No timeout."), _query(evidence=None)) is False


def test_a_chunk_of_another_document_never_supports_the_answer() -> None:
    copy = _chunk("faq.txt", EVIDENCE)
    assert _judge().citation_supports(copy, _query()) is False
    assert _judge().citation_supports(None, _query()) is False


def test_outcomes_are_counted_per_question_type() -> None:
    rows = [
        _row(False, False, [True, False], True, kind="keyword"),
        _row(False, False, [False], False, kind="keyword"),  # answered, no citation supports it
        _row(False, False, [], False, kind="keyword"),  # answered without any citation
        _row(False, True, [], False, kind="keyword"),
        _row(False, False, [True], True, kind="table"),
        _row(True, True, [], None, kind="unanswerable"),
        _row(True, False, [False], None, kind="unanswerable"),
        _row(True, True, [], None, kind="unanswerable"),
    ]
    assert [outcome(r) for r in rows] == [
        "answered_supported",
        "answered_unsupported",
        "answered_unsupported",
        "refused",
        "answered_supported",
        "refused",
        "answered",
        "refused",
    ]
    assert summarise(rows)["outcomes"] == {
        "keyword": {"questions": 4, "answered_supported": 1, "answered_unsupported": 2, "refused": 1},
        "table": {"questions": 1, "answered_supported": 1, "answered_unsupported": 0, "refused": 0},
        "unanswerable": {"questions": 3, "refused": 2, "answered": 1},
    }


def test_support_precision_counts_the_judge_and_the_summary_counts_moves_and_unsupported_sentences() -> None:
    rows = [
        _row(
            False,
            False,
            [True, True, False],
            True,
            supports=[True, False, False],
            origins=["model", "moved", "matched"],
            unsupported=["Ollo orbits Zorb."],
        ),
        _row(True, False, [False], None, origins=["moved"], unsupported=["Not counted."]),
    ]
    summary = summarise(rows)
    assert summary["citation_precision"] == round(2 / 3, 4)
    assert summary["support_precision"] == round(1 / 3, 4)
    assert summary["citations_moved"] == 1  # only answered answerable questions count
    assert summary["unsupported_sentences"] == 1
