"""Section-aware chunking, measured with a deterministic whitespace token counter."""

from __future__ import annotations

import hashlib
import itertools

from ingest.chunk import ChunkingPolicy, chunk_document
from ingest.parse import Block, ParsedDocument
from rag.types import Chunk, chunk_id

DOC_ID = "doc-1"
SOURCE = "handbook/travel.pdf"
SHA = "a" * 64


def count_words(text: str) -> int:
    return len(text.split())


def policy(chunk_tokens: int = 200, overlap_tokens: int = 0, max_model_tokens: int = 1000) -> ChunkingPolicy:
    return ChunkingPolicy(
        chunk_tokens=chunk_tokens,
        overlap_tokens=overlap_tokens,
        max_model_tokens=max_model_tokens,
        count_tokens=count_words,
    )


def words(prefix: str, count: int, start: int = 0) -> str:
    """Distinct, countable words: ``words("a", 3)`` -> ``"a0 a1 a2"``."""
    return " ".join(f"{prefix}{i}" for i in range(start, start + count))


def sentences(prefix: str, count: int, per_sentence: int = 8) -> str:
    return " ".join(words(prefix, per_sentence, start=i * per_sentence) + "." for i in range(count))


def chunk(
    blocks: list[Block],
    pol: ChunkingPolicy,
    *,
    title: str = "Handbook",
    sha256: str = SHA,
    doc_id: str = DOC_ID,
) -> list[Chunk]:
    doc = ParsedDocument(title=title, file_type="pdf", blocks=blocks)
    return chunk_document(doc, doc_id=doc_id, source=SOURCE, sha256=sha256, policy=pol)


def plain_words(text: str) -> list[str]:
    return [word.rstrip(".,;") for word in text.split()]


# -- budget ------------------------------------------------------------------------------------------


def test_every_chunk_fits_the_budget_left_after_the_header() -> None:
    section = ("Travel", "Per diem")
    blocks = [
        Block(sentences("a", 12), section, 1),
        Block(sentences("b", 9, per_sentence=5) + "\n" + sentences("c", 7), section, 1),
        Block(words("d", 150), section, 1),  # one run-on paragraph: has to be split between words
    ]
    chunks = chunk(blocks, policy(chunk_tokens=40, overlap_tokens=6))

    header_tokens = count_words("Handbook / Travel > Per diem")  # 6
    assert len(chunks) > 8
    assert all(count_words(c.text) <= 40 - header_tokens for c in chunks)
    assert max(count_words(c.text) for c in chunks) == 40 - header_tokens  # the budget is used, not wasted
    # Nothing is lost on the way: every word of the section is in some chunk.
    everything = {w for b in blocks for w in plain_words(b.text)}
    assert {w for c in chunks for w in plain_words(c.text)} == everything


def test_the_model_window_caps_the_chunk_size() -> None:
    blocks = [Block(words("w", 150), ("Travel", "Per diem"), None)]

    roomy = chunk(blocks, policy(chunk_tokens=200, max_model_tokens=1000))
    tight = chunk(blocks, policy(chunk_tokens=200, max_model_tokens=60))

    assert [count_words(c.text) for c in roomy] == [150]
    # 60 - 12 reserved - 6 header words ("Handbook / Travel > Per diem") = 42 words of text per chunk.
    assert [count_words(c.text) for c in tight] == [42, 42, 42, 24]


def test_a_longer_title_and_section_leave_less_room_for_text() -> None:
    blocks = [Block(words("w", 150), ("Travel", "Per diem"), None)]
    pol = policy(chunk_tokens=50)

    short_header = chunk(blocks, pol, title="Handbook")  # header: 6 words
    long_header = chunk(blocks, pol, title="Employee Handbook 2024 Edition")  # header: 9 words

    assert [count_words(c.text) for c in short_header] == [44, 44, 44, 18]
    assert [count_words(c.text) for c in long_header] == [41, 41, 41, 27]


def test_a_header_longer_than_the_window_still_leaves_32_tokens_of_text() -> None:
    blocks = [Block(words("w", 70), ("Travel",), None)]

    chunks = chunk(blocks, policy(chunk_tokens=200, max_model_tokens=60), title=words("t", 80))

    assert [count_words(c.text) for c in chunks] == [32, 32, 6]


# -- sections and pages ------------------------------------------------------------------------------


def test_a_chunk_never_holds_text_from_two_sections() -> None:
    blocks = [
        Block(words("a", 10), ("Travel",), 1),
        Block(words("b", 10), ("Travel", "Per diem"), 1),
        Block(words("c", 10), ("Travel", "Per diem"), 1),
        Block(words("d", 10), ("Hotels",), 1),
        Block(words("e", 10), (), 1),
        Block(words("f", 10), ("Travel",), 1),  # the same heading again later is a new section
    ]

    chunks = chunk(blocks, policy(chunk_tokens=500))

    assert [(c.section, c.text) for c in chunks] == [
        ("Travel", words("a", 10)),
        ("Travel > Per diem", words("b", 10) + "\n\n" + words("c", 10)),
        ("Hotels", words("d", 10)),
        (None, words("e", 10)),
        ("Travel", words("f", 10)),
    ]


def test_section_label_joins_the_heading_path() -> None:
    blocks = [Block("Daily allowance is 80 EUR.", ("Policies", "Travel", "Per diem"), None)]

    [only] = chunk(blocks, policy())

    assert only.section == "Policies > Travel > Per diem"
    assert only.embed_text == "Handbook / Policies > Travel > Per diem\nDaily allowance is 80 EUR."


def test_a_section_spanning_pages_is_cut_at_page_breaks_and_every_chunk_has_its_page() -> None:
    section = ("Travel",)
    blocks = [
        Block(words("a", 10), section, 1),
        Block(words("b", 10), section, 1),
        Block(words("c", 10), section, 2),
        Block(words("d", 60), section, 3),
    ]

    chunks = chunk(blocks, policy(chunk_tokens=40))  # budget: 40 - 3 header words = 37

    assert [(c.page, plain_words(c.text)[0], count_words(c.text)) for c in chunks] == [
        (1, "a0", 20),  # both page-1 paragraphs fit together
        (2, "c0", 10),  # page 2 would fit as well, but a chunk does not cross a page break
        (3, "d0", 37),
        (3, "d37", 23),
    ]
    assert all(c.section == "Travel" for c in chunks)


def test_blocks_without_page_numbers_give_chunks_without_page() -> None:
    chunks = chunk([Block("Plain text has no pages.", ("Notes",), None)], policy())

    assert [(c.page, c.text) for c in chunks] == [(None, "Plain text has no pages.")]


# -- de-duplication ----------------------------------------------------------------------------------


def test_text_repeated_inside_a_document_is_kept_once() -> None:
    blocks = [
        Block("All rights reserved.", ("Legal",), 1),
        Block("Travel is booked through the portal.", ("Travel",), 2),
        Block("All rights reserved.", ("Legal",), 3),
        Block("All  rights\nreserved.", ("Hotels",), 4),  # same words, other white space
        Block("Hotels are booked by the assistant.", ("Hotels",), 5),
    ]

    chunks = chunk(blocks, policy())

    assert [(c.index, c.page, c.text) for c in chunks] == [
        (0, 1, "All rights reserved."),
        (1, 2, "Travel is booked through the portal."),
        (2, 5, "Hotels are booked by the assistant."),
    ]


def test_the_same_text_in_another_document_is_not_deduplicated() -> None:
    blocks = [Block("All rights reserved.", ("Legal",), 1)]

    first = chunk(blocks, policy(), doc_id="doc-1")
    second = chunk(blocks, policy(), doc_id="doc-2")

    assert [c.text for c in first] == [c.text for c in second] == ["All rights reserved."]


# -- ids and metadata --------------------------------------------------------------------------------


def test_chunk_ids_are_deterministic_and_indexes_run_from_zero() -> None:
    blocks = [Block(sentences("a", 20), ("Travel",), 1), Block(sentences("b", 20), ("Hotels",), 2)]
    pol = policy(chunk_tokens=40)

    first = chunk(blocks, pol)
    again = chunk(blocks, pol)
    changed = chunk(blocks, pol, sha256="b" * 64)

    assert len(first) > 4
    assert [c.index for c in first] == list(range(len(first)))
    assert [c.chunk_id for c in first] == [c.chunk_id for c in again]
    assert [c.chunk_id for c in first] == [chunk_id(DOC_ID, SHA, i) for i in range(len(first))]
    assert len({c.chunk_id for c in first}) == len(first)
    assert not {c.chunk_id for c in first} & {c.chunk_id for c in changed}
    assert [c.text for c in first] == [c.text for c in changed]


def test_chunks_carry_the_document_metadata() -> None:
    [only] = chunk([Block("Daily allowance is 80 EUR.", ("Per diem",), 4)], policy())

    assert only == Chunk(
        chunk_id=chunk_id(DOC_ID, SHA, 0),
        doc_id=DOC_ID,
        source=SOURCE,
        index=0,
        text="Daily allowance is 80 EUR.",
        title="Handbook",
        section="Per diem",
        page=4,
        file_type="pdf",
        sha256=SHA,
    )


def test_an_empty_document_has_no_chunks() -> None:
    assert chunk([], policy()) == []


# -- overlap -----------------------------------------------------------------------------------------


def _shared_words(chunks: list[Chunk]) -> list[list[str]]:
    """For each pair of neighbours, the words at the end of one that open the next."""
    shared: list[list[str]] = []
    for left, right in itertools.pairwise(chunks):
        a, b = left.text.split(), right.text.split()
        n = max((k for k in range(min(len(a), len(b)) + 1) if a[len(a) - k :] == b[:k]), default=0)
        shared.append(b[:n])
    return shared


def test_overlap_repeats_the_end_of_a_chunk_at_the_start_of_the_next() -> None:
    blocks = [Block(words("w", 120), ("Travel",), 1)]

    with_overlap = chunk(blocks, policy(chunk_tokens=40, overlap_tokens=6))
    without = chunk(blocks, policy(chunk_tokens=40, overlap_tokens=0))

    assert len(with_overlap) > 3
    assert [len(shared) for shared in _shared_words(with_overlap)] == [6, 6, 6]
    assert _shared_words(with_overlap)[0] == words("w", 6, start=31).split()  # chunk 0 is w0..w36
    assert all(shared == [] for shared in _shared_words(without))
    assert [count_words(c.text) for c in without] == [37, 37, 37, 9]


def test_overlap_is_capped_at_a_quarter_of_the_budget() -> None:
    blocks = [Block(words("w", 120), ("Travel",), 1)]

    chunks = chunk(blocks, policy(chunk_tokens=40, overlap_tokens=30))  # budget 37 -> overlap at most 9

    assert [len(shared) for shared in _shared_words(chunks)] == [9, 9, 9]
    assert all(count_words(c.text) <= 37 for c in chunks)


def test_a_huge_run_without_white_space_is_cut_not_measured_per_character() -> None:
    # 1 MB of hex on one line, no two pieces alike (repeated chunks of one document are dropped)
    blob = "".join(hashlib.sha256(str(i).encode()).hexdigest() for i in range(32_768))
    calls = 0

    def count(text: str) -> int:
        nonlocal calls
        calls += 1
        return len(text.split())

    policy = ChunkingPolicy(chunk_tokens=256, overlap_tokens=0, max_model_tokens=512, count_tokens=count)
    doc = ParsedDocument("blob", "txt", [Block(blob)])
    chunks = chunk_document(doc, doc_id="d", source="s", sha256="h", policy=policy)
    assert "".join(c.text.replace(" ", "") for c in chunks) == blob
    assert calls < 100_000  # one call per character would be over a million
