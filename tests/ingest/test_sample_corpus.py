"""Retrieval quality on the sample knowledge base: the right file in the top 5 for the sample questions."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import SAMPLE_DOCS, sample_questions

from rag.knowledge_base import KnowledgeBase

PAGED = {"pdf", "pptx", "xlsx"}
SECTIONED = {"md", "html", "docx", "pptx", "xlsx", "eml"}


def hit_rate_at_5(kb: KnowledgeBase, mode: str) -> float:
    answerable = [q for q in sample_questions() if not q.get("unanswerable")]
    retriever = kb.retriever()
    found = 0
    for q in answerable:
        hits = retriever.search(str(q["question"]), top_k=5, mode=mode)  # type: ignore[arg-type]
        found += q["source"] in {Path(h.chunk.source).name for h in hits}
    return found / len(answerable)


def test_every_sample_file_is_ingested(sample_kb: KnowledgeBase) -> None:
    counts = sample_kb.store.chunk_counts()
    expected = [p for p in SAMPLE_DOCS.iterdir() if p.suffix not in {".py", ".jsonl"}]
    assert len(expected) >= 15 and len(counts) == len(expected)


@pytest.mark.parametrize("mode", ["hybrid", "dense", "sparse"])
def test_right_source_in_top_5_for_most_questions(sample_kb: KnowledgeBase, mode: str) -> None:
    rate = hit_rate_at_5(sample_kb, mode)
    print(f"hit@5 {mode}: {rate:.2f}")
    assert rate >= 0.8


def test_hits_carry_page_and_section_where_the_format_has_them(sample_kb: KnowledgeBase) -> None:
    retriever = sample_kb.retriever()
    seen: set[str] = set()
    for q in sample_questions():
        for hit in retriever.search(str(q["question"]), top_k=5):
            chunk = hit.chunk
            seen.add(chunk.file_type)
            if chunk.file_type in PAGED:
                assert chunk.page is not None, chunk
            if chunk.file_type in SECTIONED:
                assert chunk.section, chunk
    assert seen >= {"pdf", "docx", "pptx", "xlsx", "md", "html"}
