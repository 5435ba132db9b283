"""The relevance-gate calibration suggests a threshold that separates answerable from unanswerable."""

from __future__ import annotations

from rag.evaluation.dataset import EvalQuery
from rag.evaluation.gate import calibrate_gate


def _queries(
    answerable: list[float], unanswerable: list[float]
) -> tuple[list[EvalQuery], dict[str, float | None]]:
    queries: list[EvalQuery] = []
    scores: dict[str, float | None] = {}
    for i, score in enumerate(answerable):
        queries.append(EvalQuery(f"a{i}", "q", {"doc": 1}))
        scores[f"a{i}"] = score
    for i, score in enumerate(unanswerable):
        queries.append(EvalQuery(f"u{i}", "q", unanswerable=True))
        scores[f"u{i}"] = score
    return queries, scores


def test_separable_scores_get_the_midpoint_of_the_gap() -> None:
    queries, scores = _queries([0.62, 0.55, 0.7], [0.31, 0.45])
    gate = calibrate_gate(queries, scores, current=0.6)
    assert gate["separable"] is True
    assert gate["suggested"] == 0.5
    assert gate["suggested_accuracy"] == 1.0
    assert gate["current_accuracy"] == 0.8  # 0.55 would be refused at 0.6


def test_overlapping_scores_get_the_most_accurate_threshold() -> None:
    queries, scores = _queries([0.5, 0.6, 0.7, 0.4], [0.3, 0.45])
    gate = calibrate_gate(queries, scores, current=0.2)
    assert gate["separable"] is False
    assert gate["suggested_accuracy"] == round(5 / 6, 4)
    assert gate["current_accuracy"] == round(4 / 6, 4)


def test_without_unanswerable_questions_there_is_nothing_to_calibrate() -> None:
    queries, scores = _queries([0.5], [])
    assert calibrate_gate(queries, scores, current=0.5)["available"] is False
