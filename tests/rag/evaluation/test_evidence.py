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


# A table row as the source's plain text has it (cells run together) and as the parser writes it
# (ingest/parse.py: one line per row, each value after its column header).
TABLE_PASSAGE = (
    "Table 8.9. Date/Time Types\n"
    "Name | Storage Size | Description\n"
    "Name: timestamp with time zone; Storage Size: 8 bytes; Description: both date and time, with time zone\n"
    "Name: date; Storage Size: 4 bytes; Description: date (no time of day)\n"
    "Name: time with time zone; Storage Size: 12 bytes; Description: time of day (no date), with time zone"
)


def test_a_table_row_written_with_its_column_headers_holds_the_row_from_the_plain_text() -> None:
    assert holds_evidence(TABLE_PASSAGE, "date 4 bytes date (no time of day) time with time zone 12 bytes")


def test_cells_the_plain_text_ran_together_still_match_the_same_cells() -> None:
    assert holds_evidence(TABLE_PASSAGE, "time with time zone12 bytestime of day (no date), with time zone")


def test_another_row_of_the_same_table_does_not_hold_the_evidence() -> None:
    assert not holds_evidence(TABLE_PASSAGE, "time with time zone 8 bytes time of day (no date)")
    assert not holds_evidence(TABLE_PASSAGE, "interval 16 bytes time interval")


def test_short_evidence_is_not_matched_across_word_borders() -> None:
    # "at eight" run together is "ateight", which "great eighteen" also holds; below the letter floor
    # joined words prove nothing.
    assert not holds_evidence("a great eighteen", "at eight")
