"""What hits, documents and sources look like to a caller: the one JSON shape the CLI prints and the
HTTP API returns, and the paths people are shown."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rag.labels import printable
from rag.types import DocumentRecord, Hit


def hit_json(hit: Hit) -> dict[str, Any]:
    chunk = hit.chunk
    shape = {
        "text": chunk.text,
        "source": chunk.source,
        "page": chunk.page,
        "section": chunk.section,
        "score": round(hit.score, 6),
        "doc_id": chunk.doc_id,
        "chunk_id": chunk.chunk_id,
    }
    if chunk.ocr:  # only then, so that every other hit looks as it always did
        shape["ocr"] = True
    return shape


def document_json(record: DocumentRecord) -> dict[str, Any]:
    return {
        "doc_id": record.doc_id,
        "source": record.source,
        "hash": record.sha256,
        "chunks": record.chunks,
        "ingested_at": record.ingested_at,
        "file_type": record.file_type,
    }


def display_source(source: str) -> str:
    """A path as a person at this terminal would type it (relative to here when it is below here), with
    control characters escaped: a file name must not send escape sequences to the terminal."""
    try:
        shown = str(Path(source).relative_to(Path.cwd()))
    except ValueError:
        shown = source
    return printable(shown)
