"""Gate calibration: the thresholds that refuse the most unanswerable questions while refusing at most
5% of the answerable ones before the LLM sees them."""

from __future__ import annotations

from rag.evaluation.dataset import EvalQuery
from rag.evaluation.gate import GateSignals, calibrate_gate


def _queries(
    answerable: list[tuple[float, float]], unanswerable: list[tuple[float, float]]
) -> tuple[list[EvalQuery], dict[str, GateSignals]]:
    queries: list[EvalQuery] = []
    signals: dict[str, GateSignals] = {}
    for i, (similarity, share) in enumerate(answerable):
        queries.append(EvalQuery(f"a{i}", "q", {"doc": 1}))
        signals[f"a{i}"] = GateSignals(similarity, share)
    for i, (similarity, share) in enumerate(unanswerable):
        queries.append(EvalQuery(f"u{i}", "q", unanswerable=True))
        signals[f"u{i}"] = GateSignals(similarity, share)
    return queries, signals


def test_separable_similarities_get_a_threshold_that_refuses_every_unanswerable_and_no_answerable() -> None:
    queries, signals = _queries([(0.62, 0.0), (0.55, 0.0), (0.7, 0.0)], [(0.31, 0.0), (0.45, 0.0)])
    gate = calibrate_gate(queries, signals, current=(0.6, 0.6))
    assert gate["current"]["false_refusal_rate"] == round(1 / 3, 4)  # 0.55 is refused at 0.6
    assert gate["suggested"]["false_refusal_rate"] == 0.0
    assert gate["suggested"]["unanswerable_refused"] == 1.0
    assert 0.45 < gate["suggested"]["min_relevance"] <= 0.55


def test_keywords_rescue_an_answerable_question_the_embedder_scores_low() -> None:
    # a2 is answerable but dissimilar; only its keyword share separates it from the unanswerable ones.
    queries, signals = _queries([(0.7, 0.2), (0.65, 0.3), (0.3, 0.9)], [(0.35, 0.2), (0.4, 0.5)])
    gate = calibrate_gate(queries, signals, current=(0.5, 1.01))
    assert gate["current"]["false_refusal_rate"] == round(1 / 3, 4)
    suggested = gate["suggested"]
    assert suggested["false_refusal_rate"] == 0.0 and suggested["unanswerable_refused"] == 1.0
    assert 0.5 < suggested["min_keyword_share"] <= 0.9


def test_similarity_spread_is_reported_for_both_kinds() -> None:
    queries, signals = _queries([(0.5, 0.0), (0.7, 0.0)], [(0.3, 0.0)])
    gate = calibrate_gate(queries, signals, current=(0.45, 0.6))
    assert gate["answerable_similarity"]["min"] == 0.5 and gate["answerable_similarity"]["max"] == 0.7
    assert gate["unanswerable_similarity"]["median"] == 0.3


def test_without_unanswerable_questions_there_is_nothing_to_calibrate() -> None:
    queries, signals = _queries([(0.5, 0.0)], [])
    assert calibrate_gate(queries, signals, current=(0.5, 0.6))["available"] is False
