"""A built index of an evaluation dataset, as the scorers see it. Building one is ingest's job
(ingest/evaluation.py): the core never imports the layer above it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from rag.knowledge_base import KnowledgeBase
from rag.types import Chunk

# (done, total or None when unknown, what is being worked on)
Progress = Callable[[int, int | None, str], None]


@dataclass(slots=True)
class EvalIndex:
    kb: KnowledgeBase
    documents: int
    chunks: int
    seconds: float
    failed: list[dict[str, str]] = field(default_factory=list)
    keys: dict[str, str] = field(default_factory=dict)  # doc_id -> the dataset's document key
    chunk_ids: list[str] = field(default_factory=list)  # every chunk of the index
    root: Path | None = None

    def key_of(self, chunk: Chunk) -> str:
        """The dataset's name for the document a chunk came from (a relative path, or a BEIR _id)."""
        if self.root is not None:
            try:
                return Path(chunk.source).relative_to(self.root).as_posix()
            except ValueError:
                return chunk.source
        return self.keys.get(chunk.doc_id, chunk.doc_id)
