"""Build a throw-away index of an evaluation dataset, with the product's own ingest path.

The index lives in a temporary folder with the embedded store, whatever RAG_QDRANT_URL says: an
evaluation never touches the knowledge base people are using.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from itertools import islice
from pathlib import Path
from typing import Any

from ingest.parse import Block, ParsedDocument, configure_unstructured
from ingest.service import IngestService, ProgressCallback, source_of
from rag.config import Settings
from rag.embedding import Embedder
from rag.evaluation.dataset import CorpusDocument, EvalDataset
from rag.evaluation.index import EvalIndex, Progress
from rag.knowledge_base import KnowledgeBase

_BEIR_BATCH_DOCUMENTS = 512  # parsed documents held in memory at once
_PLAIN = {".txt", ".md", ".rst", ".csv"}
_SKIP = {".jsonl", ".py"}


def eval_settings(settings: Settings, workdir: Path) -> Settings:
    return settings.model_copy(update={"data_dir": workdir, "qdrant_url": None, "collection": "eval"})


@contextmanager
def eval_index(
    dataset: EvalDataset,
    settings: Settings,
    embedder: Embedder | None = None,
    on_progress: Progress | None = None,
) -> Iterator[EvalIndex]:
    """The dataset indexed in a temporary folder, removed when the block ends."""
    with tempfile.TemporaryDirectory(prefix="rag-eval-") as workdir:
        index = build_index(dataset, settings, Path(workdir), embedder, on_progress)
        try:
            yield index
        finally:
            index.kb.close()


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
            index = _index_corpus(kb, dataset.corpus(), workdir, on_progress)
    except BaseException:
        kb.close()
        raise
    index.seconds = round(time.perf_counter() - start, 2)
    return index


def _index_folder(kb: KnowledgeBase, folder: Path, on_progress: Progress | None) -> EvalIndex:
    with IngestService(kb) as service:
        report = service.sync([folder], on_progress=_by_name(on_progress))
        chunk_ids = [cid for record in service.ledger.documents() for cid in record.chunk_ids]
    return EvalIndex(
        kb,
        documents=report.added,
        chunks=report.chunks_embedded,
        seconds=0.0,
        failed=report.failed,
        root=folder.resolve(),
        chunk_ids=chunk_ids,
    )


def _index_corpus(
    kb: KnowledgeBase, corpus: Iterable[CorpusDocument], workdir: Path, on_progress: Progress | None
) -> EvalIndex:
    """BEIR documents are text, not files: each is written to a file (the ledger knows documents by
    their file) and handed over already parsed, with its own title, to the same ingest path."""
    texts = workdir / "corpus"
    texts.mkdir()
    keys: dict[str, str] = {}
    documents = chunks = 0
    failed: list[dict[str, str]] = []
    with IngestService(kb) as service:
        for batch in _batches(iter(corpus), _BEIR_BATCH_DOCUMENTS):
            parsed: list[tuple[Path, ParsedDocument]] = []
            for doc in batch:
                if not doc.text.strip():
                    continue
                path = texts / f"{documents + len(parsed)}.txt"
                path.write_text(doc.text, encoding="utf-8")
                title = doc.title or doc.key
                parsed.append((path, ParsedDocument(title=title, file_type="txt", blocks=[Block(doc.text)])))
                keys[source_of(path)] = doc.key
            report = service.add_parsed(parsed)
            documents += len(batch)
            chunks += report.chunks_embedded
            failed += report.failed
            if on_progress:
                on_progress(documents, None, f"{chunks} chunks")
        records = service.ledger.documents()
    by_doc_id = {r.doc_id: keys[r.source] for r in records if r.source in keys}
    chunk_ids = [cid for record in records for cid in record.chunk_ids]
    return EvalIndex(
        kb,
        documents=documents,
        chunks=chunks,
        seconds=0.0,
        failed=failed,
        keys=by_doc_id,
        chunk_ids=chunk_ids,
    )


def _by_name(on_progress: Progress | None) -> ProgressCallback | None:
    if on_progress is None:
        return None
    return lambda done, total, path: on_progress(done, total, path.name)


def _batches(items: Iterator[Any], size: int) -> Iterator[list[Any]]:
    while batch := list(islice(items, size)):
        yield batch


# -- the naive baseline's reader (rag/evaluation/baseline.py) ----------------------------------------


def baseline_documents(dataset: EvalDataset) -> list[tuple[str, str]]:
    """(document key, plain text) of every document, as a quick pipeline reads them."""
    if dataset.documents_dir is None:
        return [(doc.key, f"{doc.title}\n{doc.text}") for doc in dataset.corpus()]
    return folder_documents(dataset.documents_dir)


def folder_documents(root: Path) -> list[tuple[str, str]]:
    return [
        (path.relative_to(root).as_posix(), plain_text(path))
        for path in sorted(root.rglob("*"))
        if path.is_file() and path.suffix.lower() not in _SKIP and not path.name.startswith(".")
    ]


def plain_text(path: Path) -> str:
    """The text of a file the way a quick pipeline gets it: markup and layout dropped."""
    suffix = path.suffix.lower()
    if suffix in {".html", ".htm"}:
        import lxml.html

        tree = lxml.html.parse(str(path))
        for bad in tree.xpath("//script|//style"):
            bad.drop_tree()
        return str(tree.getroot().text_content())
    if suffix == ".pdf":
        from pdfminer.high_level import extract_text

        return str(extract_text(str(path)))
    if suffix in _PLAIN:
        return path.read_text(encoding="utf-8", errors="replace")
    from unstructured.partition.auto import partition  # Office files and e-mail: their plain text

    # This runs in the command's own process, not a parse worker: without it, unstructured would
    # try to download its spaCy model.
    configure_unstructured()
    return "\n".join(str(element) for element in partition(filename=str(path)))
