"""Keep the index in step with files on disk: add new files, skip unchanged ones, replace changed ones,
remove deleted ones. The CLI, the API upload and the watcher all ingest through this one service."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from ingest.chunk import ChunkingPolicy, chunk_document
from ingest.discover import walk
from ingest.ledger import Ledger, now_iso
from ingest.parse import PIPELINE_VERSION, parse_file, title_from_name
from rag.errors import (
    DocumentError,
    EmptyDocumentError,
    InputError,
    NotFoundError,
    ServiceUnavailableError,
    StoreError,
)
from rag.knowledge_base import KnowledgeBase
from rag.types import DocumentRecord, document_id

log = logging.getLogger(__name__)

ProgressCallback = Callable[[int, int, Path], None]


class Outcome(StrEnum):
    ADDED = "added"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    MOVED = "moved"  # same content under a new path: relabelled, not re-embedded


@dataclass(slots=True)
class IngestReport:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    failed: list[dict[str, str]] = field(default_factory=list)
    skipped: int = 0  # files in walked folders that are not a supported document type
    chunks_embedded: int = 0

    def count(self, outcome: Outcome) -> None:
        setattr(self, outcome.value, getattr(self, outcome.value) + 1)

    def to_json(self) -> dict[str, Any]:
        return {
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "removed": self.removed,
            "failed": self.failed,
            "skipped": self.skipped,
            "chunks_embedded": self.chunks_embedded,
        }


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def source_of(path: Path) -> str:
    """A document is known by its absolute path, so `rag ingest docs` and `rag ingest ./docs/` agree."""
    return str(path.expanduser().resolve())


class IngestService:
    def __init__(self, kb: KnowledgeBase, ledger: Ledger) -> None:
        self._kb = kb
        self._ledger = ledger
        self.embedded_chunks = 0  # total over this service's life; tests and benchmarks read it

    # -- one file ------------------------------------------------------------------------------------

    def ingest_file(self, path: Path) -> tuple[Outcome, int]:
        """Bring one file's chunks up to date. Returns the outcome and how many chunks were embedded.

        Raises DocumentError for a file that cannot be ingested (recorded in the ledger's failures),
        ServiceUnavailableError/StoreError when the embedder or store is down (nothing was written).
        """
        source = source_of(path)
        try:
            stat = path.stat()
        except FileNotFoundError as exc:
            raise DocumentError("The file disappeared before it could be read.") from exc
        record = self._ledger.by_source(source)
        pipeline = self._pipeline()
        current = record is not None and record.pipeline == pipeline
        if record and current and (record.size, record.mtime_ns) == (stat.st_size, stat.st_mtime_ns):
            return Outcome.UNCHANGED, 0
        sha256 = sha256_file(path)
        if record and current and record.sha256 == sha256:
            self._ledger.touch(record.doc_id, stat.st_size, stat.st_mtime_ns)
            return Outcome.UNCHANGED, 0
        # A document keeps its id for life, also after a rename changed its path.
        doc_id = record.doc_id if record else self._new_document_id(source, sha256)
        try:
            parsed = parse_file(path)
            embedder = self._kb.embedder
            policy = ChunkingPolicy(
                chunk_tokens=self._kb.settings.chunk_tokens,
                overlap_tokens=self._kb.settings.chunk_overlap_tokens,
                max_model_tokens=embedder.max_tokens,
                count_tokens=embedder.count_tokens,
            )
            chunks = chunk_document(parsed, doc_id=doc_id, source=source, sha256=sha256, policy=policy)
            if not chunks:
                raise EmptyDocumentError("No text could be extracted from this file.")
        except DocumentError as exc:
            self._ledger.record_failure(source, sha256, exc.message)
            raise
        vectors = embedder.embed_documents([chunk.embed_text for chunk in chunks])
        store = self._kb.store
        # New chunks first, old ones after: a crash in between leaves extra chunks, never a hole.
        store.upsert(chunks, vectors)
        new_ids = [chunk.chunk_id for chunk in chunks]
        if record:
            keep = set(new_ids)
            store.delete_points([cid for cid in record.chunk_ids if cid not in keep])
        self._ledger.put(
            DocumentRecord(
                doc_id=doc_id,
                source=source,
                sha256=sha256,
                size=stat.st_size,
                mtime_ns=stat.st_mtime_ns,
                chunk_ids=new_ids,
                ingested_at=now_iso(),
                title=parsed.title,
                file_type=parsed.file_type,
                pipeline=pipeline,
            )
        )
        self.embedded_chunks += len(chunks)
        return (Outcome.UPDATED if record else Outcome.ADDED), len(chunks)

    def _new_document_id(self, source: str, sha256: str) -> str:
        doc_id = document_id(source)
        if self._ledger.get(doc_id) is not None:
            # The id derived from this path belongs to a document that was renamed away from it.
            doc_id = document_id(f"{source}\n{sha256}")
        return doc_id

    def _pipeline(self) -> str:
        """What turned files into chunks; when it changes (a parser upgrade, new chunk sizes), files are
        re-ingested once even though their content did not change."""
        s = self._kb.settings
        return f"v{PIPELINE_VERSION}:{s.chunk_tokens}:{s.chunk_overlap_tokens}"

    # -- many files ----------------------------------------------------------------------------------

    def sync(
        self,
        paths: Sequence[Path],
        remove_missing: bool = False,
        on_progress: ProgressCallback | None = None,
        exclude: Path | None = None,
    ) -> IngestReport:
        """Ingest every document under ``paths``; with ``remove_missing``, also forget documents under
        those paths whose files are gone. Per-file problems land in ``report.failed``."""
        if not paths:
            raise InputError("Give at least one file or folder to ingest.")
        report = IngestReport()
        files: list[Path] = []
        existing_roots: list[Path] = []
        for path in paths:
            path = path.expanduser()
            if path.is_dir():
                existing_roots.append(path)
                for file, supported in walk(path, exclude=exclude or self._kb.settings.data_dir):
                    if supported:
                        files.append(file)
                    else:
                        report.skipped += 1
            elif path.is_file():
                existing_roots.append(path)
                files.append(path)  # named explicitly: an unsupported type is reported, not skipped
            elif not (remove_missing and self._ledger.by_source(source_of(path))):
                report.failed.append({"path": str(path), "error": "No such file or folder."})
        if not existing_roots and not (remove_missing and any(self.known_under(p) for p in paths)):
            raise InputError("Nothing to ingest: " + ", ".join(str(p) for p in paths) + " does not exist.")
        files = list(dict.fromkeys(files))
        for done, file in enumerate(files, start=1):
            try:
                outcome, embedded = self.ingest_file(file)
                report.count(outcome)
                report.chunks_embedded += embedded
            except DocumentError as exc:
                report.failed.append({"path": str(file), "error": exc.message})
            except (ServiceUnavailableError, StoreError):
                raise  # every remaining file would fail the same way: stop and say why
            except Exception as exc:  # a bug on one odd file must not stop the batch
                log.debug("unexpected error ingesting %s", file, exc_info=True)  # RAG_DEBUG=1 shows it
                message = f"Unexpected error ({exc.__class__.__name__}: {exc}); please report it."
                report.failed.append({"path": str(file), "error": message})
            if on_progress:
                on_progress(done, len(files), file)
        if remove_missing:
            present = {source_of(f) for f in files}
            for path in paths:
                for record in self.known_under(path):
                    if record.source not in present:
                        self.remove(record.source)
                        report.removed += 1
        if report.chunks_embedded:
            self._kb.store.optimize()
        return report

    def known_under(self, path: Path) -> list[DocumentRecord]:
        """Ingested documents at or below ``path``."""
        root = source_of(path)
        prefix = root.rstrip("/") + "/"
        return [r for r in self._ledger.documents() if r.source == root or r.source.startswith(prefix)]

    # -- removing ------------------------------------------------------------------------------------

    def find(self, ref: str) -> DocumentRecord:
        """A document by id, by the source as stored, or by a path that resolves to it."""
        record = (
            self._ledger.get(ref)
            or self._ledger.by_source(ref)
            or self._ledger.by_source(source_of(Path(ref)))
        )
        if record is None:
            raise NotFoundError(f"No ingested document matches {ref!r}: `rag docs` lists them.")
        return record

    def remove(self, ref: str) -> DocumentRecord:
        record = self.find(ref)
        self._kb.existing_store().delete_document(record.doc_id)
        self._ledger.remove(record.doc_id)
        return record

    def forget(self, source: str) -> bool:
        """Remove a document whose file is gone; False if it was never ingested."""
        if self._ledger.by_source(source) is None:
            self._ledger.clear_failure(source)
            return False
        self.remove(source)
        return True

    def move(self, old: Path, new: Path) -> Outcome | None:
        """A file was renamed or moved. Same content: relabel its chunks (no embedding). Otherwise, or if
        the old path was never ingested, returns None and the new path should simply be ingested."""
        record = self._ledger.by_source(source_of(old))
        if record is None:
            return None
        try:
            stat = new.stat()
        except FileNotFoundError:
            # Moved on again before we looked. If it is back at its old path (an undo), keep it.
            if not old.exists():
                self.remove(record.doc_id)
            return None
        if record.pipeline != self._pipeline() or sha256_file(new) != record.sha256:
            self.remove(record.doc_id)
            return None
        new_source = source_of(new)
        displaced = self._ledger.by_source(new_source)
        if displaced is not None and displaced.doc_id != record.doc_id:
            self.remove(displaced.doc_id)  # the move overwrote another ingested file
        title = title_from_name(new)
        self._kb.store.set_source(record.doc_id, new_source, title)
        record.source, record.title = new_source, title
        record.size, record.mtime_ns = stat.st_size, stat.st_mtime_ns
        self._ledger.put(record)
        return Outcome.MOVED

    def reindex(self, on_progress: ProgressCallback | None = None) -> IngestReport:
        """Rebuild everything with the current embedder from the files the ledger knows."""
        sources = [Path(r.source) for r in self._ledger.documents()]
        self._kb.reset_store()
        self._ledger.clear()
        if not sources:
            return IngestReport()
        return self.sync(sources, on_progress=on_progress)
