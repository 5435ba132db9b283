"""Split a parsed document into chunks sized in the embedder's tokens, never across sections.

Consecutive blocks under the same heading path form a section; each section is split on its own with
`langchain-text-splitters` (paragraphs first, then lines, sentences, words), so a chunk never mixes two
sections or two documents and always knows its heading path and pages.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from langchain_text_splitters import RecursiveCharacterTextSplitter

from ingest.parse import Block, ParsedDocument
from rag.types import Chunk, chunk_id

_SEPARATOR = "\n\n"
# Room for the model's special tokens and the "search_document: " prefix.
_RESERVED_TOKENS = 12


@dataclass(frozen=True, slots=True)
class ChunkingPolicy:
    chunk_tokens: int
    overlap_tokens: int
    max_model_tokens: int
    count_tokens: Callable[[str], int]


def chunk_document(
    doc: ParsedDocument, *, doc_id: str, source: str, sha256: str, policy: ChunkingPolicy
) -> list[Chunk]:
    chunks: list[Chunk] = []
    seen: set[str] = set()
    for section, blocks in _sections(doc.blocks):
        section_label = " > ".join(section) or None
        header = doc.title if not section_label else f"{doc.title} / {section_label}"
        budget = min(policy.chunk_tokens, policy.max_model_tokens - _RESERVED_TOKENS) - policy.count_tokens(
            header
        )
        # A heading path longer than the window still leaves room for some text.
        budget = max(budget, 32)
        for text, page, page_end in _split_section(blocks, budget, policy):
            normalised = " ".join(text.split())
            if normalised in seen:  # repeated boilerplate inside one document
                continue
            seen.add(normalised)
            chunks.append(
                Chunk(
                    chunk_id=chunk_id(doc_id, sha256, len(chunks)),
                    doc_id=doc_id,
                    source=source,
                    index=len(chunks),
                    text=text,
                    title=doc.title,
                    section=section_label,
                    page=page,
                    page_end=page_end if page_end != page else None,
                    file_type=doc.file_type,
                    sha256=sha256,
                )
            )
    return chunks


def _sections(blocks: list[Block]) -> Iterator[tuple[tuple[str, ...], list[Block]]]:
    current: list[Block] = []
    for block in blocks:
        if current and block.section != current[0].section:
            yield current[0].section, current
            current = []
        current.append(block)
    if current:
        yield current[0].section, current


def _split_section(
    blocks: list[Block], budget: int, policy: ChunkingPolicy
) -> Iterator[tuple[str, int | None, int | None]]:
    """Yield (text, first page, last page) for each piece of one section."""
    starts: list[int] = []
    parts: list[str] = []
    offset = 0
    for block in blocks:
        starts.append(offset)
        parts.append(block.text)
        offset += len(block.text) + len(_SEPARATOR)
    text = _SEPARATOR.join(parts)
    splitter = RecursiveCharacterTextSplitter(
        chunk_size=budget,
        chunk_overlap=min(policy.overlap_tokens, budget // 4),
        length_function=policy.count_tokens,
        separators=[_SEPARATOR, "\n", ". ", "; ", ", ", " ", ""],
        keep_separator="end",
        add_start_index=True,
        strip_whitespace=True,
    )
    for piece in splitter.create_documents([text]):
        start = int(piece.metadata["start_index"])
        if start < 0:  # the splitter could not locate the piece; fall back to the section start
            start = 0
        end = start + max(len(piece.page_content) - 1, 0)
        first = blocks[bisect.bisect_right(starts, start) - 1].page
        last = blocks[bisect.bisect_right(starts, end) - 1].page
        yield piece.page_content, first, last
