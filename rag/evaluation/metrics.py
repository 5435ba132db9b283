"""Ranking metrics over document rankings, with the definitions BEIR and trec_eval use.

``ranked`` is the list of document keys a mode returned, best first, each key once; ``relevant`` maps
the judged-relevant keys to their grade (> 0). Chunks are collapsed to their document before scoring,
so a mode is not rewarded for returning three chunks of the same file.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence


def recall_at(ranked: Sequence[str], relevant: Mapping[str, int], k: int) -> float:
    """Share of the relevant documents found in the first ``k``."""
    if not relevant:
        return 0.0
    return sum(1 for key in ranked[:k] if key in relevant) / len(relevant)


def reciprocal_rank_at(ranked: Sequence[str], relevant: Mapping[str, int], k: int) -> float:
    """1 / rank of the first relevant document within the first ``k`` (0 when there is none)."""
    for rank, key in enumerate(ranked[:k], start=1):
        if key in relevant:
            return 1.0 / rank
    return 0.0


def ndcg_at(ranked: Sequence[str], relevant: Mapping[str, int], k: int) -> float:
    """Normalised discounted cumulative gain with linear gain (trec_eval's ndcg_cut)."""
    dcg = sum(relevant.get(key, 0) / math.log2(rank + 1) for rank, key in enumerate(ranked[:k], start=1))
    ideal_grades = sorted(relevant.values(), reverse=True)[:k]
    idcg = sum(grade / math.log2(rank + 1) for rank, grade in enumerate(ideal_grades, start=1))
    return dcg / idcg if idcg > 0 else 0.0


def first_relevant_rank(ranked: Sequence[str], relevant: Mapping[str, int]) -> int | None:
    for rank, key in enumerate(ranked, start=1):
        if key in relevant:
            return rank
    return None


RETRIEVAL_METRICS = ("recall@1", "recall@5", "recall@10", "mrr@10", "ndcg@10")


def retrieval_scores(ranked: Sequence[str], relevant: Mapping[str, int]) -> dict[str, float]:
    """Every metric `rag eval` reports, for one query."""
    return {
        "recall@1": recall_at(ranked, relevant, 1),
        "recall@5": recall_at(ranked, relevant, 5),
        "recall@10": recall_at(ranked, relevant, 10),
        "mrr@10": reciprocal_rank_at(ranked, relevant, 10),
        "ndcg@10": ndcg_at(ranked, relevant, 10),
    }


def mean_scores(per_query: Sequence[Mapping[str, float]]) -> dict[str, float]:
    if not per_query:
        return {name: 0.0 for name in RETRIEVAL_METRICS}
    return {name: round(sum(q[name] for q in per_query) / len(per_query), 4) for name in RETRIEVAL_METRICS}
