"""The table `rag eval` prints: the answer section's support precision and outcomes per question type."""

from __future__ import annotations

from typing import Any

from rag.evaluation.metrics import RETRIEVAL_METRICS
from rag.evaluation.report import render


def _result(answers: dict[str, Any]) -> dict[str, Any]:
    return {
        "dataset": {
            "path": "devset",
            "format": "questions",
            "documents": 2,
            "chunks": 9,
            "judged_queries": 5,
            "unanswerable_queries": 3,
        },
        "embedder": "sentence-transformers:all-MiniLM-L6-v2",
        "retrieval": {"dense": {**dict.fromkeys(RETRIEVAL_METRICS, 1.0), "ms_per_query": 1.0}},
        "index_failures": [],
        "relevance_gate": {"available": False, "reason": "no unanswerable questions"},
        "answers": answers,
    }


ANSWERS = {
    "available": True,
    "model": "openai:qwen2.5-0.5b-instruct",
    "questions": 8,
    "refusal_accuracy": 2 / 3,
    "false_refusal_rate": 0.2,
    "citation_precision": 0.75,
    "support_precision": 0.5,
    "outcomes": {
        "keyword": {"questions": 4, "answered_supported": 1, "answered_unsupported": 2, "refused": 1},
        "multi-sentence": {"questions": 1, "answered_supported": 1, "answered_unsupported": 0, "refused": 0},
        "unanswerable": {"questions": 3, "refused": 2, "answered": 1},
    },
}


def test_the_answer_section_shows_support_precision_and_the_outcomes_per_type() -> None:
    lines = render(_result(ANSWERS)).splitlines()
    answers = lines[lines.index("Answers by openai:qwen2.5-0.5b-instruct (8 questions):") :]
    assert ["support", "precision", "(cited", "chunk", "holds", "the", "evidence", "span)", "50%"] in [
        line.split() for line in answers
    ]
    table = answers[answers.index("") + 1 :]
    assert table[0].startswith("  Outcomes per question type (answerable: answered with a supporting")
    assert [line.split() for line in table[2:]] == [
        ["type", "questions", "supported", "unsupported", "refused", "answered"],
        ["keyword", "4", "1", "2", "1", "-"],
        ["multi-sentence", "1", "1", "0", "0", "-"],
        ["unanswerable", "3", "-", "-", "2", "1"],
    ]


def test_without_outcomes_there_is_no_table() -> None:
    text = render(_result({k: v for k, v in ANSWERS.items() if k != "outcomes"}))
    assert "Outcomes per question type" not in text
