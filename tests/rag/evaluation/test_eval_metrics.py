"""Ranking metrics against values worked out by hand (and trec_eval's definitions)."""

from __future__ import annotations

import math

import pytest

from rag.evaluation.metrics import (
    first_relevant_rank,
    mean_scores,
    ndcg_at,
    recall_at,
    reciprocal_rank_at,
    retrieval_scores,
)

RANKED = ["a", "b", "c", "d", "e"]


def test_recall_counts_relevant_documents_within_the_cutoff() -> None:
    relevant = {"b": 1, "e": 1, "z": 1}
    assert recall_at(RANKED, relevant, 1) == 0
    assert recall_at(RANKED, relevant, 2) == pytest.approx(1 / 3)
    assert recall_at(RANKED, relevant, 5) == pytest.approx(2 / 3)
    assert recall_at(RANKED, {}, 5) == 0


def test_reciprocal_rank_is_one_over_the_first_hit_inside_the_cutoff() -> None:
    assert reciprocal_rank_at(RANKED, {"c": 1, "e": 1}, 10) == pytest.approx(1 / 3)
    assert reciprocal_rank_at(RANKED, {"e": 1}, 4) == 0
    assert first_relevant_rank(RANKED, {"d": 1}) == 4
    assert first_relevant_rank(RANKED, {"x": 1}) is None


def test_ndcg_uses_linear_gain_and_log2_discount() -> None:
    # One relevant document at rank 2: DCG = 1/log2(3), ideal = 1/log2(2) = 1.
    assert ndcg_at(RANKED, {"b": 1}, 10) == pytest.approx(1 / math.log2(3))
    # Graded: a (grade 1) at rank 1, c (grade 2) at rank 3; the ideal puts grade 2 first.
    dcg = 1 / math.log2(2) + 2 / math.log2(4)
    idcg = 2 / math.log2(2) + 1 / math.log2(3)
    assert ndcg_at(RANKED, {"a": 1, "c": 2}, 10) == pytest.approx(dcg / idcg)
    assert ndcg_at(RANKED, {"a": 1}, 10) == 1.0
    assert ndcg_at(RANKED, {"q": 1}, 10) == 0.0


def test_mean_scores_average_over_queries() -> None:
    perfect = retrieval_scores(["a"], {"a": 1})
    missed = retrieval_scores(["b"], {"a": 1})
    assert perfect == {"recall@1": 1, "recall@5": 1, "recall@10": 1, "mrr@10": 1, "ndcg@10": 1}
    assert mean_scores([perfect, missed])["mrr@10"] == 0.5
    assert mean_scores([])["recall@1"] == 0.0
