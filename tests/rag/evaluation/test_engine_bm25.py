"""The engine-tokenizer BM25 that `rag eval` shows as "before": what it finds, and what it cannot."""

from __future__ import annotations

from rag import sparse
from rag.evaluation.engine_bm25 import EngineTokenizerBm25
from rag.types import Chunk


def _chunk(n: int, text: str) -> Chunk:
    return Chunk(chunk_id=f"c{n}", doc_id=f"d{n}", source=f"/kb/{n}.txt", index=0, text=text, title="")


CHUNKS = [
    _chunk(0, "The VPN gateway listens on port 4443."),
    _chunk(1, "Refunds are paid within 14 days."),
    _chunk(2, "公司的VPN网关使用端口4443"),
]


def test_it_ranks_by_shared_words_with_the_engines_idf() -> None:
    hits = EngineTokenizerBm25(CHUNKS).search("refunds days", 3)
    assert [h.chunk.chunk_id for h in hits] == ["c1"] and hits[0].score > 0


def test_it_cannot_find_a_word_inside_an_unspaced_chinese_sentence_where_our_analysis_can() -> None:
    old = EngineTokenizerBm25(CHUNKS).search("网关", 3)
    assert "c2" not in [h.chunk.chunk_id for h in old]  # the whole sentence is one token to it
    assert set(sparse.analyze("网关")) <= set(sparse.analyze(CHUNKS[2].text))
