"""Keep the index in step with files on disk: add new files, skip unchanged ones, replace changed ones,
remove deleted ones. The CLI, the API upload and the watcher all ingest through this one service."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import logging
import os
import threading
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import StrEnum
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from ingest.access_rules import AccessDecision, AccessPolicy
from ingest.chunk import ChunkingPolicy, chunk_document
from ingest.discover import walk
from ingest.ledger import documents_under, now_iso, open_ledger
from ingest.ocr import OcrOptions
from ingest.parse import PIPELINE_VERSION, ParsedDocument, title_from_name
from ingest.sandbox import ParsePool
from rag.errors import (
    DocumentError,
    EmptyDocumentError,
    InputError,
    NotFoundError,
    ServiceUnavailableError,
    StaleWriteError,
    StoreError,
)
from rag.knowledge_base import KnowledgeBase
from rag.labels import printable
from rag.types import Chunk, DocumentRecord, document_id

log = logging.getLogger(__name__)

ProgressCallback = Callable[[int, int, Path], None]
_T = TypeVar("_T")
# Files parsed ahead of the one being embedded, beyond one per parse worker, and chunks gathered
# before one embedding call.
_PARSE_AHEAD = 1
_CORES_FOR_PARSE_AHEAD = 2
_EMBED_BATCH_CHUNKS = 64
# Chunks written between two optimise-and-flush passes outside a batch's end (see IngestService._written):
# ~250 MB of write-ahead log, and at most this many chunks searched without an index.
SETTLE_EVERY_CHUNKS = 100_000


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


def unchanged_by_stat(record: DocumentRecord, size: int, mtime_ns: int, pipeline: str) -> bool:
    """Whether a file is taken as unchanged without reading it: same size and mtime as when ``record``
    was written, by the same parse-and-chunk pipeline. `rag scan` and :meth:`IngestService.check` both
    decide on it, so a scan skips exactly the files a worker would skip without reading them."""
    return record.pipeline == pipeline and (record.size, record.mtime_ns) == (size, mtime_ns)


def source_of(path: Path) -> str:
    """A document is known by its absolute path, so `rag ingest docs` and `rag ingest ./docs/` agree."""
    return str(path.expanduser().resolve())


class IngestService:
    """Owns the ledger of what is ingested (opened here, closed by :meth:`close`); writes through
    ``kb``'s embedder and store. One path for every file: :meth:`check`, :meth:`prepare` (parse and
    chunk), embed, :meth:`commit`; single files and batches differ only in how they schedule it."""

    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb
        self.ledger = open_ledger(kb.settings)
        s = kb.settings
        self._parsers = ParsePool.shared(
            s.file_timeout_s, s.max_parse_memory_mb, s.ingest_workers, OcrOptions.of(s)
        )
        self.access = AccessPolicy(s)
        # Called from parse threads as a long scan is read: (file, pages done, pages to read by OCR).
        self.on_pages: Callable[[Path, int, int], None] | None = None
        self._access_applied: str | None = None  # the rules version every document is labelled by
        self._unsettled = 0  # chunks written since the store was last optimised and flushed
        self._settle_lock = threading.Lock()

    def close(self) -> None:
        self.ledger.close()  # the parse pool is shared by the process and closes at its exit

    def parse(self, path: Path) -> ParsedDocument:
        """parse_file in a child process, within RAG_FILE_TIMEOUT_S and RAG_MAX_PARSE_MEMORY_MB.
        Pages read by OCR are reported to ``on_pages(path, done, total)`` (a progress bar), if set."""
        on_pages = self.on_pages
        return self._parsers.parse(path, None if on_pages is None else functools.partial(on_pages, path))

    def __enter__(self) -> IngestService:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- one file ------------------------------------------------------------------------------------

    def ingest_file(
        self,
        path: Path,
        parsed: ParsedDocument | None = None,
        access: list[str] | None = None,
        set_access: bool = False,
        moved_from: str | None = None,
    ) -> tuple[Outcome, int]:
        """Bring one file's chunks up to date. Returns the outcome and how many chunks were embedded.
        ``parsed``: the file's content, when the caller has already parsed it (an upload is checked
        before it may replace an earlier one), so it is not parsed twice. ``set_access``: an upload
        says who may read it: ``access`` (access labels), or None for the folder rules.
        ``moved_from``: the source this file had before a move; every chunk whose text the document
        there already embedded takes its vector from the store instead of the embedder.

        Raises DocumentError for a file that cannot be ingested (recorded in the ledger's failures),
        ServiceUnavailableError/StoreError when the embedder or store is down (nothing was written).
        """
        work = self.check(path, access, set_access)
        if isinstance(work, Outcome):
            return work, 0
        try:
            prepared = self.prepare(work, parsed)
        except DocumentError as exc:
            self.ledger.record_failure(work.source, work.sha256, exc.message)
            raise
        vectors, embedded = self._vectors(prepared.chunks, moved_from)
        return self.commit(prepared, vectors), embedded

    def _vectors(self, chunks: Sequence[Chunk], moved_from: str | None) -> tuple[list[list[float]], int]:
        """The chunks' vectors, and how many of them the embedder computed. A moved file's chunks with
        the very text its earlier document embedded (same name, so same title) reuse those vectors: a
        folder moved under `rag worker` is not embedded again. A renamed file's title is in every
        chunk's text, so it is embedded anew, with its new title."""
        known = self._embedded_texts(moved_from) if moved_from is not None else {}
        missing = [chunk.embed_text for chunk in chunks if chunk.embed_text not in known]
        fresh = iter(self.kb.embedder.embed_documents(missing) if missing else [])
        vectors = [known.get(chunk.embed_text) or list(next(fresh)) for chunk in chunks]
        return vectors, len(missing)

    def _embedded_texts(self, source: str) -> dict[str, list[float]]:
        record = self.ledger.by_source(source)
        if record is None or record.pipeline != self.pipeline():
            return {}  # gone already, or chunked or embedded otherwise than today
        return {chunk.embed_text: vector for chunk, vector in self.kb.store.get_vectors(record.chunk_ids)}

    def check(self, path: Path, access: list[str] | None = None, set_access: bool = False) -> Outcome | Work:
        """Skip an unchanged file (by size and mtime, then by content hash; re-labelled if who may read
        it changed); otherwise say what to do."""
        source = source_of(path)
        try:
            stat = path.stat()
        except FileNotFoundError as exc:
            raise DocumentError("The file disappeared before it could be read.") from exc
        limit_mb = self.kb.settings.max_file_mb
        if stat.st_size > limit_mb * 1024 * 1024:
            raise DocumentError(
                f"The file is larger than {limit_mb} MB (RAG_MAX_FILE_MB): raise the limit to ingest it."
            )
        record = self.ledger.by_source(source)
        override = access if set_access else (record.access_override if record else None)
        decision = self.access.decide(source, override)
        pipeline = self.pipeline()
        current = record is not None and record.pipeline == pipeline
        if record and unchanged_by_stat(record, stat.st_size, stat.st_mtime_ns, pipeline):
            self._relabel(record, decision, override)
            return Outcome.UNCHANGED
        sha256 = sha256_file(path)
        if record and current and record.sha256 == sha256:
            self.ledger.touch(record.doc_id, stat.st_size, stat.st_mtime_ns)
            self._relabel(record, decision, override)
            return Outcome.UNCHANGED
        # A document keeps its id for life, also after a rename changed its path.
        doc_id = record.doc_id if record else self._new_document_id(source, sha256)
        labels = decision.access.labels()
        return Work(
            path, source, stat.st_size, stat.st_mtime_ns, sha256, doc_id, record, pipeline, labels, override
        )

    def prepare(self, work: Work, parsed: ParsedDocument | None = None) -> Prepared:
        """Parse and chunk. Touches neither the ledger nor the store, so it can run on another thread."""
        parsed = parsed or self.parse(work.path)
        policy = ChunkingPolicy.of(self.kb.settings, self.kb.embedder)
        chunks = chunk_document(
            parsed, doc_id=work.doc_id, source=work.source, sha256=work.sha256, policy=policy
        )
        access = tuple(work.access)
        chunks = [dataclasses.replace(chunk, access=access) for chunk in chunks]
        if not chunks:
            raise EmptyDocumentError("No text could be extracted from this file.")
        limit = self.kb.settings.max_file_chunks
        if len(chunks) > limit:
            raise DocumentError(
                f"This file makes {len(chunks):,} chunks, more than RAG_MAX_FILE_CHUNKS ({limit:,}): split "
                "it, or raise the limit to ingest it."
            )
        return Prepared(work, parsed.title, parsed.file_type, chunks)

    def commit(self, prepared: Prepared, vectors: Sequence[Sequence[float]]) -> Outcome:
        """Write one file's embedded chunks: the new chunks, then every other chunk of the document
        deleted, the ledger last, as a compare-and-set on the generation :meth:`check` read.

        Raises StaleWriteError when another writer (a worker whose job was presumed dead and redone)
        wrote the document since: its newer record stands, and this attempt's chunks it does not list
        are removed again."""
        work, chunks = prepared.work, prepared.chunks
        store = self.kb.store
        # New chunks first, old ones after: a crash in between leaves extra chunks, never a hole.
        store.upsert(chunks, vectors)
        new_ids = [chunk.chunk_id for chunk in chunks]
        expected = work.record.generation if work.record else 0
        if not self._still_at(work, expected):
            self._lose(work, new_ids, deleted_others=False)
        # By filter, not by the old record's list: chunks of an attempt that crashed after its upsert are
        # listed nowhere, and must not survive this one.
        store.delete_stale_chunks(work.doc_id, new_ids)
        record = DocumentRecord(
            doc_id=work.doc_id,
            source=work.source,
            sha256=work.sha256,
            size=work.size,
            mtime_ns=work.mtime_ns,
            chunk_ids=new_ids,
            ingested_at=now_iso(),
            title=prepared.title,
            file_type=prepared.file_type,
            pipeline=work.pipeline,
            access=work.access,
            access_override=work.access_override,
        )
        try:
            self.ledger.put(record, expected_generation=expected)
        except StaleWriteError:
            self._lose(work, new_ids, deleted_others=True)
        self._written(len(chunks))
        return Outcome.UPDATED if work.record else Outcome.ADDED

    def settle(self) -> None:
        """Optimise the store (index what was written) and flush it; a batch does this at its end."""
        with self._settle_lock:
            self._unsettled = 0
        self.kb.store.optimize()

    def _written(self, chunks: int) -> None:
        """The watcher, workers and uploads write one file at a time and never end a batch: settle every
        SETTLE_EVERY_CHUNKS chunks so a store that stays open does not keep all it was sent unindexed
        and in its write-ahead log."""
        with self._settle_lock:
            self._unsettled += chunks
            due = self._unsettled >= SETTLE_EVERY_CHUNKS
        if due:
            self.settle()

    def _still_at(self, work: Work, generation: int) -> bool:
        """Is the ledger's record of ``work``'s file still the one :meth:`check` read? (A cheap look
        before deleting anything; the ledger's compare-and-set decides.)"""
        holder = self.ledger.by_source(work.source)
        if holder is None:
            return generation == 0 and self.ledger.get(work.doc_id) is None
        return holder.doc_id == work.doc_id and holder.generation == generation

    def _lose(self, work: Work, new_ids: list[str], deleted_others: bool) -> None:
        """A newer write of the document won: take back this attempt's chunks the winner does not list,
        and raise StaleWriteError. ``deleted_others``: this attempt already deleted the document's other
        chunks, possibly the winner's (both wrote at the same moment); then, if the winner's record now
        lists chunks that are gone, it is marked for the next sync to redo instead of claiming a hole."""
        winner = self.ledger.get(work.doc_id)
        keep = set(winner.chunk_ids) if winner else set()
        self.kb.store.delete_points([cid for cid in new_ids if cid not in keep])
        if deleted_others and winner is not None:
            present = {chunk.chunk_id for chunk in self.kb.store.get(winner.chunk_ids)}
            if not keep <= present:
                winner.pipeline = ""  # no current pipeline made it: check() re-ingests it
                with contextlib.suppress(StaleWriteError):  # newer still: that writer's record stands
                    self.ledger.put(winner, expected_generation=winner.generation)
        log.info("a newer write of %s won; this one is discarded", printable(work.source))
        raise StaleWriteError(
            f"{printable(work.source)} was ingested by another worker at the same time; its newer result "
            "is kept and this one discarded."
        )

    # -- who may read what ---------------------------------------------------------------------------

    def _relabel(self, record: DocumentRecord, decision: AccessDecision, override: list[str] | None) -> bool:
        """Give an ingested document's chunks the labels ``decision`` says, without re-embedding them:
        the store first, then the ledger (as for any write)."""
        labels = decision.access.labels()
        if record.access == labels and record.access_override == override:
            return False
        if record.access != labels:
            self.kb.existing_store().set_access(record.doc_id, labels)
        record.access, record.access_override = labels, override
        self.ledger.put(record)
        log.info("access of %s is now %s (%s)", printable(record.source), decision.access.describe(),
                 decision.rule)  # fmt: skip
        return True

    def access_rules_changed(self) -> bool:
        return self.access.rules.version != self._access_applied

    def apply_access_rules(self) -> int:
        """Re-label every document whose readers the current rules decide differently (a rule edited,
        a store from before permissions). Returns how many were re-labelled; nothing is re-embedded."""
        version = self.access.rules.version
        changed = 0
        for record in documents_under(self.ledger):  # a page at a time: a ledger may hold millions
            decision = self.access.decide(record.source, record.access_override)
            changed += self._relabel(record, decision, record.access_override)
        self._access_applied = version
        return changed

    def _new_document_id(self, source: str, sha256: str) -> str:
        doc_id = document_id(source)
        if self.ledger.get(doc_id) is not None:
            # The id derived from this path belongs to a document that was renamed away from it.
            doc_id = document_id(f"{source}\n{sha256}")
        return doc_id

    def pipeline(self) -> str:
        """What turned files into chunks; when it changes (a parser upgrade, new chunk sizes), files are
        re-ingested once even though their content did not change."""
        s = self.kb.settings
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
        if self.access_rules_changed():
            self.apply_access_rules()
        report = IngestReport()
        files: list[Path] = []
        existing_roots: list[Path] = []
        for path in paths:
            path = path.expanduser()
            if path.is_dir():
                existing_roots.append(path)
                for found in walk(path, exclude=exclude or self.kb.settings.data_dir):
                    if found.problem is not None:
                        report.failed.append({"path": printable(str(found.path)), "error": found.problem})
                    elif found.supported:
                        files.append(found.path)
                    else:
                        report.skipped += 1
            elif path.is_file():
                existing_roots.append(path)
                files.append(path)  # named explicitly: an unsupported type is reported, not skipped
            elif not (remove_missing and self.ledger.by_source(source_of(path))):
                report.failed.append({"path": printable(str(path)), "error": "No such file or folder."})
        if not existing_roots and not (remove_missing and any(self._knows_under(p) for p in paths)):
            raise InputError("Nothing to ingest: " + ", ".join(str(p) for p in paths) + " does not exist.")
        files = list(dict.fromkeys(files))
        _Batch(self, report, len(files), on_progress).run(files)
        if remove_missing:
            present = {source_of(f) for f in files}
            for path in paths:
                for record in self.known_under(path):
                    if record.source not in present:
                        self.remove(record.source)
                        report.removed += 1
        if report.chunks_embedded:
            self.settle()
        return report

    def add_parsed(
        self, documents: Sequence[tuple[Path, ParsedDocument]], on_progress: ProgressCallback | None = None
    ) -> IngestReport:
        """Ingest documents parsed elsewhere (an evaluation corpus), each with the file that holds its
        text (the ledger knows a document by its file), on the same path as any other file."""
        report = IngestReport()
        parsed = dict(documents)
        _Batch(self, report, len(parsed), on_progress).run(list(parsed), parsed)
        if report.chunks_embedded:
            self.settle()
        return report

    def known_under(self, path: Path) -> Iterator[DocumentRecord]:
        """Ingested documents at or below ``path`` (by whole path components), by source, read from the
        ledger a page at a time (an index range scan, never every row)."""
        return documents_under(self.ledger, source_of(path))

    def _knows_under(self, path: Path) -> bool:
        return next(iter(self.known_under(path)), None) is not None

    # -- removing ------------------------------------------------------------------------------------

    def find(self, ref: str) -> DocumentRecord:
        """A document by id, by the source as stored, or by a path that resolves to it."""
        record = (
            self.ledger.get(ref) or self.ledger.by_source(ref) or self.ledger.by_source(source_of(Path(ref)))
        )
        if record is None:
            raise NotFoundError(f"No ingested document matches {ref!r}: `rag docs` lists them.")
        return record

    def remove(self, ref: str) -> DocumentRecord:
        record = self.find(ref)
        self.kb.existing_store().delete_document(record.doc_id)
        self.ledger.remove(record.doc_id)
        return record

    def forget(self, source: str) -> bool:
        """Remove a document whose file is gone; False if it was never ingested."""
        if self.ledger.by_source(source) is None:
            self.ledger.clear_failure(source)
            return False
        self.remove(source)
        return True

    def move(self, old: Path, new: Path) -> Outcome | None:
        """A file was renamed or moved. Same content: relabel its chunks (no embedding). Otherwise, or if
        the old path was never ingested, returns None and the new path should simply be ingested."""
        record = self.ledger.by_source(source_of(old))
        if record is None:
            return None
        try:
            stat = new.stat()
        except FileNotFoundError:
            # Moved on again before we looked. If it is back at its old path (an undo), keep it.
            if not old.exists():
                self.remove(record.doc_id)
            return None
        if record.pipeline != self.pipeline() or sha256_file(new) != record.sha256:
            self.remove(record.doc_id)
            return None
        new_source = source_of(new)
        displaced = self.ledger.by_source(new_source)
        if displaced is not None and displaced.doc_id != record.doc_id:
            self.remove(displaced.doc_id)  # the move overwrote another ingested file
        title = title_from_name(new)
        labels = self.access.decide(new_source, record.access_override).access.labels()
        store = self.kb.store
        # Readers first: a document moved into a restricted folder is hidden before anything else moves.
        if labels != record.access:
            store.set_access(record.doc_id, labels)
        store.set_source(record.doc_id, new_source, title)
        record.source, record.title, record.access = new_source, title, labels
        record.size, record.mtime_ns = stat.st_size, stat.st_mtime_ns
        self.ledger.put(record)
        return Outcome.MOVED

    def reindex(self, on_progress: ProgressCallback | None = None) -> IngestReport:
        """Rebuild everything with the current embedder from the files the ledger knows."""
        sources = [Path(r.source) for r in documents_under(self.ledger)]
        self.kb.reset_store()
        self.ledger.clear()
        if not sources:
            return IngestReport()
        return self.sync(sources, on_progress=on_progress)


@dataclass(frozen=True, slots=True)
class Work:
    """A file that needs (re-)ingesting, with what the ledger said about it."""

    path: Path
    source: str
    size: int
    mtime_ns: int
    sha256: str
    doc_id: str
    record: DocumentRecord | None
    pipeline: str
    access: list[str]  # the labels its chunks get
    access_override: list[str] | None  # set on upload; None: the folder rules decide


@dataclass(frozen=True, slots=True)
class Prepared:
    work: Work
    title: str
    file_type: str
    chunks: list[Chunk]


def parse_ahead_pays(embedder_name: str) -> bool:
    """Parse the next files on a thread while this batch embeds? Not on a single core, where there is
    nothing to overlap with. On 2 cores with the in-process MiniLM, bench/ingest.py measured it 3%
    faster on an idle machine and 23% faster on a busy one; with Ollama the embedding runs in another
    process and the thread hides parsing entirely."""
    return embedder_name.startswith("ollama:") or (os.cpu_count() or 1) >= _CORES_FOR_PARSE_AHEAD


class _Inline:
    """The executor interface, run on the caller's thread: parse-ahead switched off."""

    def submit(self, fn: Callable[[], Prepared]) -> Future[Prepared]:
        future: Future[Prepared] = Future()
        try:
            future.set_result(fn())
        except BaseException as exc:  # handed to whoever reads the result, as a thread would
            future.set_exception(exc)
        return future

    def __enter__(self) -> _Inline:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


class _Batch:
    """Ingest many files with the embedder kept busy.

    RAG_INGEST_WORKERS threads parse (each through a worker process of the parse pool) and chunk the
    next files while the caller's thread embeds and writes; chunks of several small files are embedded
    in one call. Per file the order stays: new chunks written, old ones deleted, ledger last. The
    ledger and the store are only touched from the caller's thread.
    """

    def __init__(
        self, service: IngestService, report: IngestReport, total: int, on_progress: ProgressCallback | None
    ) -> None:
        self._service = service
        self._report = report
        self._total = total
        self._on_progress = on_progress
        self._done = 0
        self._ready: list[Prepared] = []

    def run(self, files: Sequence[Path], parsed: Mapping[Path, ParsedDocument] | None = None) -> None:
        parsing: deque[tuple[Work, Future[Prepared]]] = deque()
        workers = self._service.kb.settings.ingest_workers
        background = workers > 1 or parse_ahead_pays(self._service.kb.embedder.name)
        ahead = workers + _PARSE_AHEAD  # every parse worker busy, and one file ready to embed
        with (
            ThreadPoolExecutor(max_workers=workers, thread_name_prefix="rag-parse")
            if background
            else _Inline() as parser
        ):
            try:
                for file in files:
                    work = self._guard(file, partial(self._service.check, file))
                    if isinstance(work, Work):
                        prepare = partial(self._service.prepare, work, (parsed or {}).get(file))
                        parsing.append((work, parser.submit(prepare)))
                    elif work is not None:
                        self._finish(file, work)
                    while len(parsing) > ahead:
                        self._collect(*parsing.popleft())
                        self._embed_if_due(next_is_parsed=parsing[0][1].done())
                while parsing:
                    self._collect(*parsing.popleft())
                    self._embed_if_due(next_is_parsed=bool(parsing) and parsing[0][1].done())
                self._embed_ready()
            finally:
                for _, future in parsing:
                    future.cancel()

    def _collect(self, work: Work, future: Future[Prepared]) -> None:
        prepared = self._guard(work.path, future.result, work)
        if prepared is not None:
            self._ready.append(prepared)

    def _embed_if_due(self, next_is_parsed: bool) -> None:
        """Embed when the batch is full, or when it fills one model batch and waiting for the parser
        would leave the embedder idle (small calls cost more per chunk; idle time costs more still)."""
        waiting = sum(len(p.chunks) for p in self._ready)
        if waiting >= _EMBED_BATCH_CHUNKS or (waiting >= _EMBED_BATCH_CHUNKS // 2 and not next_is_parsed):
            self._embed_ready()

    def _embed_ready(self) -> None:
        ready, self._ready = self._ready, []
        if not ready:
            return
        texts = [chunk.embed_text for prepared in ready for chunk in prepared.chunks]
        vectors = self._service.kb.embedder.embed_documents(texts)
        start = 0
        for prepared in ready:
            end = start + len(prepared.chunks)
            commit = partial(self._service.commit, prepared, vectors[start:end])
            outcome = self._guard(prepared.work.path, commit)
            if outcome is not None:
                self._report.chunks_embedded += len(prepared.chunks)
                self._finish(prepared.work.path, outcome)
            start = end

    def _guard(self, path: Path, step: Callable[[], _T], work: Work | None = None) -> _T | None:
        """Run one file's step; a problem with that file is reported and the batch goes on."""
        try:
            return step()
        except DocumentError as exc:
            if work is not None:
                self._service.ledger.record_failure(work.source, work.sha256, exc.message)
            self._fail(path, exc.message)
        except StaleWriteError:
            self._finish(path, Outcome.UNCHANGED)  # up to date, by another worker's newer write
        except (ServiceUnavailableError, StoreError):
            raise  # every remaining file would fail the same way: stop and say why
        except Exception as exc:  # a bug on one odd file must not stop the batch
            log.debug("unexpected error ingesting %s", path, exc_info=True)  # RAG_DEBUG=1 shows it
            self._fail(path, f"Unexpected error ({exc.__class__.__name__}: {exc}); please report it.")
        return None

    def _fail(self, path: Path, message: str) -> None:
        self._report.failed.append({"path": printable(str(path)), "error": message})
        self._progress(path)

    def _finish(self, path: Path, outcome: Outcome) -> None:
        self._report.count(outcome)
        self._progress(path)

    def _progress(self, path: Path) -> None:
        self._done += 1
        if self._on_progress:
            self._on_progress(self._done, self._total, path)
