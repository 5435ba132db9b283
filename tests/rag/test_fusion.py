"""Fusing a dense and a BM25 ranking: rank-based (RRF) and score-based (DBSF)."""

from __future__ import annotations

from rag.fusion import Fusion
from rag.types import Chunk, Hit


def hit(name: str, score: float) -> Hit:
    return Hit(Chunk(chunk_id=name, doc_id="d", source="s", index=0, text=name, title="t"), score)


def names(hits: list[Hit]) -> list[str]:
    return [h.chunk.chunk_id for h in hits]


# "both-like" is fifth in each list; each retriever has its own first place.
DENSE = [
    hit("clear-winner", 0.9),
    *(hit(f"d{i}", 0.5 - i / 100) for i in range(2, 5)),
    hit("both-like", 0.45),
]
SPARSE = [hit("s1", 12.0), *(hit(f"s{i}", 11 - i / 10) for i in range(2, 5)), hit("both-like", 10.5)]


def test_rrf_with_a_large_k_lets_a_passage_both_half_like_beat_one_retrievers_winner() -> None:
    assert names(Fusion("rrf", k=60).fuse(DENSE, SPARSE, 3))[0] == "both-like"


def test_rrf_with_a_small_k_keeps_each_retrievers_first_place_on_top() -> None:
    top = names(Fusion("rrf", k=2).fuse(DENSE, SPARSE, 3))
    assert set(top[:2]) == {"clear-winner", "s1"}


def test_weights_favour_one_retriever() -> None:
    assert names(Fusion("rrf", k=2, dense_weight=1.0, sparse_weight=0.5).fuse(DENSE, SPARSE, 1)) == [
        "clear-winner"
    ]
    assert names(Fusion("rrf", k=2, dense_weight=0.5, sparse_weight=1.0).fuse(DENSE, SPARSE, 1)) == ["s1"]


def test_dbsf_rewards_a_score_far_above_the_rest_of_its_list() -> None:
    fused = Fusion("dbsf").fuse(DENSE, SPARSE, 2)
    assert names(fused)[0] == "clear-winner"


def test_fusion_of_one_empty_list_is_the_other_list() -> None:
    for fusion in (Fusion("rrf"), Fusion("dbsf")):
        assert names(fusion.fuse(DENSE, [], 5)) == names(DENSE)


def test_limit_and_scores_are_respected() -> None:
    fused = Fusion("rrf", k=60).fuse(DENSE, SPARSE, 2)
    assert len(fused) == 2 and fused[0].score >= fused[1].score > 0
