"""Split a parsed document into chunks sized in the embedder's tokens, never across sections.

Consecutive blocks under the same heading path and on the same page (read the same way: text layer or
OCR) form a section; each section is split on its own with `langchain-text-splitters` (paragraphs
first, then lines, sentences, words), so a chunk never mixes two sections, two pages or two documents,
and a citation's page is exact.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from ingest.parse import Block, ParsedDocument
from rag.config import Settings
from rag.embedding import Embedder
from rag.types import Chunk, chunk_id

_SEPARATOR = "\n\n"
# A run of this many characters without white space is no word (a base64 blob, a minified line): it is
# cut into pieces of _PIECE characters, or the splitter would measure it one character at a time.
_LONG_RUN = re.compile(r"\S{500,}")
_PIECE = 100
# Room for the model's special tokens and the "search_document: " prefix.
_RESERVED_TOKENS = 12


@dataclass(frozen=True, slots=True)
class ChunkingPolicy:
    chunk_tokens: int
    overlap_tokens: int
    max_model_tokens: int
    count_tokens: Callable[[str], int]

    @classmethod
    def of(cls, settings: Settings, embedder: Embedder) -> ChunkingPolicy:
        """The policy for this knowledge base: RAG_CHUNK_TOKENS and overlap, in this embedder's tokens."""
        return cls(
            chunk_tokens=settings.chunk_tokens,
            overlap_tokens=settings.chunk_overlap_tokens,
            max_model_tokens=embedder.max_tokens,
            count_tokens=embedder.count_tokens,
        )


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
        for text in _split_section(blocks, budget, policy):
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
                    page=blocks[0].page,
                    file_type=doc.file_type,
                    sha256=sha256,
                    ocr=blocks[0].ocr,
                )
            )
    return chunks


def _sections(blocks: list[Block]) -> Iterator[tuple[tuple[str, ...], list[Block]]]:
    current: list[Block] = []
    for block in blocks:
        if current and (block.section, block.page, block.ocr) != (
            current[0].section,
            current[0].page,
            current[0].ocr,
        ):
            yield current[0].section, current
            current = []
        current.append(block)
    if current:
        yield current[0].section, current


def _split_section(blocks: list[Block], budget: int, policy: ChunkingPolicy) -> list[str]:
    # Imported on first use: langchain takes a fifth of a second to import, and `rag docs` or a search
    # that asks a running server never splits text.
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    splitter = RecursiveCharacterTextSplitter(
        chunk_size=budget,
        chunk_overlap=min(policy.overlap_tokens, budget // 4),
        length_function=policy.count_tokens,
        separators=[_SEPARATOR, "\n", ". ", "; ", ", ", " ", ""],
        keep_separator="end",
        strip_whitespace=True,
    )
    text = _SEPARATOR.join(block.text for block in blocks)
    return splitter.split_text(_LONG_RUN.sub(_cut, text) if _LONG_RUN.search(text) else text)


def _cut(run: re.Match[str]) -> str:
    word = run.group(0)
    return " ".join(word[i : i + _PIECE] for i in range(0, len(word), _PIECE))
