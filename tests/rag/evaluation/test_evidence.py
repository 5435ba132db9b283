"""Passage-level judgment: a passage holds the evidence whole, or most of a span a chunk border cut."""

from __future__ import annotations

from rag.evaluation.evidence import holds_evidence

EVIDENCE = (
    "The default is 1GB. Increasing this parameter can increase the amount of time needed for crash recovery."
)


def test_whole_evidence_matches_despite_case_whitespace_and_punctuation() -> None:
    passage = (
        "max_wal_size: the DEFAULT is 1GB;\n increasing this parameter can increase the amount of time "
        "needed for crash recovery (see below)."
    )
    assert holds_evidence(passage, EVIDENCE)


def test_most_of_a_span_split_by_a_chunk_border_still_counts() -> None:
    assert holds_evidence(
        "Increasing this parameter can increase the amount of time needed for crash", EVIDENCE
    )


def test_a_passage_with_a_few_shared_words_does_not_count() -> None:
    assert not holds_evidence("The default is 16MB for wal_buffers.", EVIDENCE)
    assert not holds_evidence("anything", "")


def test_cjk_evidence_is_matched_by_characters_across_reflowed_lines_and_chunk_borders() -> None:
    evidence = "레이어 대화상자에서 새 레이어를 만들 수 있습니다."
    assert holds_evidence("도움말: 레이어 대화상자에서\n새 레이어를 만들 수 있습니다. 끝", evidence)
    chinese = "图层对话框是管理图层的主要界面，可以在这里创建新图层。"
    assert holds_evidence("前文。图层对话框是管理图层的主要界面，可以在这里创", chinese)  # the larger part
    assert not holds_evidence("图层对话框", chinese)
    assert not holds_evidence("通道对话框用于管理通道。", chinese)
