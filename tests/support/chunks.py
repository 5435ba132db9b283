"""Chunks as the ingest service would make them (deterministic ids), for the store tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rag.types import Chunk, chunk_id, document_id


def make_chunk(source: str, index: int, text: str, **extra: Any) -> Chunk:
    """Chunk ``index`` of the file at ``source``; ``extra`` sets any other field (access, page, ...)."""
    doc_id = document_id(source)
    fields: dict[str, Any] = {"title": Path(source).stem, "sha256": "sha-" + source, **extra}
    return Chunk(
        chunk_id=chunk_id(doc_id, fields["sha256"], index),
        doc_id=doc_id,
        source=source,
        index=index,
        text=text,
        **fields,
    )
