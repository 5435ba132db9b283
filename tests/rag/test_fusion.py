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


def test_an_english_only_embedder_sits_out_the_fusion_for_a_chinese_japanese_or_korean_question() -> None:
    from support.fakes import HashingEmbedder

    from rag.embedding.base import reads_only_english
    from rag.retrieval import Retriever
    from rag.sparse import mostly_cjk

    assert reads_only_english("all-MiniLM-L6-v2") and reads_only_english("nomic-embed-text:latest")
    assert not reads_only_english("bge-m3") and not reads_only_english("nomic-embed-text-v2-moe")
    assert not reads_only_english("multilingual-e5-small")
    assert mostly_cjk("레이어를 어떻게 만드나요?") and mostly_cjk("tarでファイルを展開するには")
    assert not mostly_cjk("VPN 게이트웨이 port 4443") and not mostly_cjk("What is the gateway?")

    class MiniLMNamed(HashingEmbedder):
        @property
        def name(self) -> str:
            return "sentence-transformers:all-MiniLM-L6-v2"

    fusion = Fusion("dbsf", dense_weight=1.0, sparse_weight=0.5)
    english_only = Retriever(MiniLMNamed(), store=None, fusion=fusion)  # type: ignore[arg-type]
    assert english_only.fusion_for("图层对话框在哪里？").dense_weight == 0.0
    assert english_only.fusion_for("Where is the layers dialog?") == fusion
    multilingual = Retriever(HashingEmbedder(), store=None, fusion=fusion)  # type: ignore[arg-type]
    assert multilingual.fusion_for("图层对话框在哪里？") == fusion
