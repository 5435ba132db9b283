"""Build a throw-away index of an evaluation dataset, with the product's own ingest path.

The index lives in a temporary folder with the embedded store, whatever RAG_QDRANT_URL says: an
evaluation never touches the knowledge base people are using.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

from rag.config import Settings
from rag.embedding import Embedder
from rag.evaluation.dataset import CorpusDocument, EvalDataset
from rag.knowledge_base import KnowledgeBase
from rag.types import Chunk, document_id

# (done, total or None when unknown, what is being worked on)
Progress = Callable[[int, int | None, str], None]

_BEIR_BATCH_DOCUMENTS = 64


@dataclass(slots=True)
class EvalIndex:
    kb: KnowledgeBase
    documents: int
    chunks: int
    seconds: float
    failed: list[dict[str, str]] = field(default_factory=list)
    _keys: dict[str, str] = field(default_factory=dict)  # doc_id -> the dataset's document key
    _root: Path | None = None

    def key_of(self, chunk: Chunk) -> str:
        """The dataset's name for the document a chunk came from (a relative path, or a BEIR _id)."""
        if self._root is not None:
            try:
                return Path(chunk.source).relative_to(self._root).as_posix()
            except ValueError:
                return chunk.source
        return self._keys.get(chunk.doc_id, chunk.doc_id)


def eval_settings(settings: Settings, workdir: Path) -> Settings:
    return settings.model_copy(update={"data_dir": workdir, "qdrant_url": None, "collection": "eval"})


def build_index(
    dataset: EvalDataset,
    settings: Settings,
    workdir: Path,
    embedder: Embedder | None = None,
    on_progress: Progress | None = None,
) -> EvalIndex:
    kb = KnowledgeBase(eval_settings(settings, workdir), embedder=embedder)
    start = time.perf_counter()
    try:
        if dataset.documents_dir is not None:
            index = _index_folder(kb, dataset.documents_dir, on_progress)
        else:
            index = _index_corpus(kb, dataset.corpus(), on_progress)
    except BaseException:
        kb.close()
        raise
    index.seconds = round(time.perf_counter() - start, 2)
    return index


def _index_folder(kb: KnowledgeBase, folder: Path, on_progress: Progress | None) -> EvalIndex:
    from ingest.ledger import Ledger
    from ingest.service import IngestService

    ledger = Ledger(kb.settings.ledger_path)
    try:
        service = IngestService(kb, ledger)
        report = service.sync(
            [folder],
            on_progress=(lambda done, total, path: on_progress(done, total, path.name))
            if on_progress
            else None,
        )
    finally:
        ledger.close()
    return EvalIndex(
        kb,
        documents=report.added,
        chunks=report.chunks_embedded,
        seconds=0.0,
        failed=report.failed,
        _root=folder.resolve(),
    )


def _index_corpus(
    kb: KnowledgeBase, corpus: Iterable[CorpusDocument], on_progress: Progress | None
) -> EvalIndex:
    """Each BEIR document goes through the same chunker as a parsed file, then embed and upsert in
    batches across documents (BEIR passages are short; one embed call each would be slow)."""
    from ingest.chunk import ChunkingPolicy, chunk_document
    from ingest.parse import Block, ParsedDocument

    embedder = kb.embedder
    policy = ChunkingPolicy.of(kb.settings, embedder)
    keys: dict[str, str] = {}
    documents = chunks_total = 0
    for batch in _batches(iter(corpus), _BEIR_BATCH_DOCUMENTS):
        chunks: list[Chunk] = []
        for doc in batch:
            if not doc.text.strip():
                continue
            doc_id = document_id(f"beir:{doc.key}")
            keys[doc_id] = doc.key
            parsed = ParsedDocument(title=doc.title or doc.key, file_type="txt", blocks=[Block(doc.text)])
            chunks.extend(chunk_document(parsed, doc_id=doc_id, source=doc.key, sha256="", policy=policy))
        if chunks:
            kb.store.upsert(chunks, embedder.embed_documents([c.embed_text for c in chunks]))
        documents += len(batch)
        chunks_total += len(chunks)
        if on_progress:
            on_progress(documents, None, f"{chunks_total} chunks")
    if chunks_total:
        kb.store.optimize()
    return EvalIndex(kb, documents=documents, chunks=chunks_total, seconds=0.0, _keys=keys)


def _batches(items: Iterator[Any], size: int) -> Iterator[list[Any]]:
    while batch := list(islice(items, size)):
        yield batch
