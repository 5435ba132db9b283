from __future__ import annotations

import pytest

from rag.store.filtered_search import (
    ACORN_FROM_SHARE,
    ACORN_HNSW_EF,
    ACORN_UP_TO_SHARE,
    EXACT_UP_TO_POINTS,
    DenseMethod,
    DensePlan,
    plan_dense_search,
)

MILLION = 1_000_000
HNSW_EF = 256


def test_without_a_filter_the_store_walks_its_graph_at_its_own_breadth() -> None:
    assert plan_dense_search(None, MILLION, HNSW_EF) == DensePlan(DenseMethod.HNSW, HNSW_EF)


def test_a_reader_passing_a_quarter_of_the_store_steps_over_what_it_may_not_read() -> None:
    assert plan_dense_search(240_000, MILLION, HNSW_EF) == DensePlan(DenseMethod.ACORN, ACORN_HNSW_EF)


def test_a_reader_passing_half_of_the_store_keeps_plain_hnsw() -> None:
    assert plan_dense_search(490_000, MILLION, HNSW_EF) == DensePlan(DenseMethod.HNSW, HNSW_EF)


def test_a_few_percent_of_a_large_store_keeps_plain_hnsw_a_scan_would_cost_too_much() -> None:
    assert plan_dense_search(40_000, MILLION, HNSW_EF) == DensePlan(DenseMethod.HNSW, HNSW_EF)


def test_few_enough_points_are_scored_exactly_whatever_their_share() -> None:
    assert plan_dense_search(4_000, 100_000, HNSW_EF).method is DenseMethod.EXACT
    assert plan_dense_search(EXACT_UP_TO_POINTS, 10 * MILLION, HNSW_EF) == DensePlan(DenseMethod.EXACT, None)
    assert plan_dense_search(0, MILLION, HNSW_EF).method is DenseMethod.EXACT


@pytest.mark.parametrize(
    ("share", "method"),
    [
        (ACORN_FROM_SHARE - 0.001, DenseMethod.HNSW),
        (ACORN_FROM_SHARE, DenseMethod.ACORN),
        (ACORN_UP_TO_SHARE, DenseMethod.ACORN),
        (ACORN_UP_TO_SHARE + 0.001, DenseMethod.HNSW),
    ],
)
def test_the_acorn_band_includes_both_ends(share: float, method: DenseMethod) -> None:
    assert plan_dense_search(int(share * 10 * MILLION), 10 * MILLION, HNSW_EF).method is method


def test_an_empty_store_has_nothing_to_plan() -> None:
    assert plan_dense_search(0, 0, HNSW_EF) == DensePlan(DenseMethod.HNSW, HNSW_EF)
