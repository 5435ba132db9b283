"""`rag worker`: one process that takes ingest jobs from the PostgreSQL queue (ingest/queue.py) and runs
each through the one IngestService, one file at a time. Run one per core, on as many boxes as needed;
each parses in its own sandboxed child process and writes to the store named by the settings.

A job is one file: ingested, updated, or removed if the file is gone. What the worker does is printed as
one line per job (``on_event``), like `rag watch`.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import socket
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
from procrastinate.exceptions import ConnectorException

from ingest.discover import walk
from ingest.ledger import Failure, documents_under
from ingest.parse import title_from_name
from ingest.queue import RUNNER, IngestQueue, OnEvent, QueueSettings, unreachable
from ingest.service import IngestService, Outcome, source_of, unchanged_by_stat
from rag.config import Settings
from rag.errors import ConfigError, DocumentError, RagError, ServiceUnavailableError, StaleWriteError
from rag.knowledge_base import KnowledgeBase
from rag.labels import printable

log = logging.getLogger(__name__)


def queue_settings(settings: Settings) -> QueueSettings:
    """The queue's part of the settings; a clear error when RAG_DATABASE_URL is not set."""
    url = settings.database_url.get_secret_value() if settings.database_url else None
    if not url:
        raise ConfigError(
            "The ingest queue lives in PostgreSQL: set RAG_DATABASE_URL (e.g. "
            "postgresql://rag:secret@db:5432/rag) for `rag worker` and `rag scan`, the same for every "
            "worker and API replica. Without it, `rag ingest`, `rag watch` and `rag serve --watch` ingest "
            "in one process."
        )
    return QueueSettings(
        database_url=url,
        collection=settings.collection,
        max_attempts=settings.job_max_attempts,
        scan_interval_s=settings.scan_interval_s,
        stalled_after_s=settings.worker_stalled_after_s,
        retention_days=settings.job_retention_days,
    )


def open_queue(settings: Settings) -> IngestQueue:
    """The queue, opened for adding jobs and reading them (the API and `rag scan`)."""
    return IngestQueue(queue_settings(settings)).open()


# -- scanning a folder -------------------------------------------------------------------------------


@dataclass(slots=True)
class ScanReport:
    new: int = 0
    changed: int = 0
    deleted: int = 0
    unchanged: int = 0
    failed_before: int = 0  # failed since their last change: not queued again until edited
    already_queued: int = 0
    problems: int = 0  # unreadable folders, links out of the folder (as `rag ingest` reports them)

    @property
    def queued(self) -> int:
        return self.new + self.changed + self.deleted - self.already_queued

    def to_json(self) -> dict[str, int]:
        return dataclasses.asdict(self) | {"queued": self.queued}


def scan(service: IngestService, queue: IngestQueue, root: Path) -> ScanReport:
    """Queue a job for every file under ``root`` that is new, changed (size or modification time differ
    from the ledger's, or parsed by an older pipeline), or gone. The job itself compares content hashes
    (IngestService.check), so a file only touched is not re-embedded. A file that failed is queued again
    once it is modified after the failure.

    The files on disk are listed and sorted; the ledger is read page by page in the same order (code
    points) and merged with them, so a ledger of millions of documents is never in memory at once."""
    report = ScanReport()
    pipeline = service.pipeline()
    on_disk: list[tuple[str, int, int]] = []  # (source, size, mtime_ns)
    for found in walk(root, exclude=service.kb.settings.data_dir):
        if found.problem is not None:
            report.problems += 1
        elif found.supported:
            try:
                stat = found.path.stat()
            except FileNotFoundError:
                continue  # gone since the walk saw it: its record (if any) counts as deleted
            on_disk.append((source_of(found.path), stat.st_size, stat.st_mtime_ns))
    on_disk.sort()
    failures = {f.source: f for f in service.ledger.failures()}
    records = documents_under(service.ledger, source_of(root))
    record = next(records, None)
    for source, size, mtime_ns in on_disk:
        while record is not None and record.source < source:  # in the ledger, no longer on disk
            report.deleted += 1
            report.already_queued += not queue.enqueue_path(record.source)
            record = next(records, None)
        if record is not None and record.source == source:
            known, record = record, next(records, None)
            if unchanged_by_stat(known, size, mtime_ns, pipeline):
                report.unchanged += 1
                continue
            report.changed += 1
        else:
            failure = failures.get(source)
            if failure is not None and _failed_after_change(failure, mtime_ns / 1e9):
                report.failed_before += 1
                continue
            report.new += 1
        report.already_queued += not queue.enqueue_path(source)
    while record is not None:
        report.deleted += 1
        report.already_queued += not queue.enqueue_path(record.source)
        record = next(records, None)
    return report


class FolderJobs:
    """The folder watcher's work as queue jobs (`rag serve --watch` with RAG_DATABASE_URL): the server
    queues, the workers ingest. The same queueing lock per path as `rag scan`."""

    def __init__(self, service: IngestService, queue: IngestQueue) -> None:
        self._service = service
        self._queue = queue

    def enqueue_path(self, source: str) -> bool:
        return self._queue.enqueue_path(source)

    def enqueue_move(self, source: str, moved_from: str) -> bool:
        return self._queue.enqueue_move(source, moved_from)

    def enqueue_changes(self, root: Path) -> str:
        return describe_scan(scan(self._service, self._queue, root))


def _failed_after_change(failure: Failure, mtime: float) -> bool:
    try:
        failed_at = datetime.fromisoformat(failure.failed_at).timestamp()
    except ValueError:
        return False
    return failed_at > mtime


# -- running jobs ------------------------------------------------------------------------------------


class JobRunner:
    """What a worker does with each job. Called on procrastinate's job thread, one job at a time."""

    def __init__(self, service: IngestService, queue: IngestQueue, on_event: OnEvent) -> None:
        self.service = service
        self.queue = queue
        self.on_event = on_event
        self.stalled_after_s = queue.settings.stalled_after_s
        self.jobs_done = 0

    def ingest_path(self, source: str, moved_from: str | None = None) -> str:
        """Bring one file up to date; remove it from the knowledge base if it is gone. ``moved_from``:
        where the file was before a move (its document's vectors are reused where the text is the same)."""
        started = time.monotonic()
        path = Path(source)
        shown = printable(source)
        if not path.exists():
            removed = self.service.forget(source)
            return self._done("removed" if removed else "gone", shown, started)
        try:
            outcome, chunks = self.service.ingest_file(path, moved_from=moved_from)
        except StaleWriteError as exc:  # another worker wrote a newer result of this file meanwhile
            return self._done("superseded", f"{shown}: {exc.message}", started)
        except DocumentError as exc:
            if not self._failure_recorded(source):  # parse errors are recorded by ingest_file already
                self.service.ledger.record_failure(source, "", exc.message)
            self.on_event("failed", f"{shown}: {exc.message}")
            raise
        except ServiceUnavailableError as exc:
            self.on_event("retrying", f"{shown}: {exc.message}")
            raise
        except RagError as exc:
            self.on_event("failed", f"{shown}: {exc.message}")
            raise
        except Exception as exc:  # a bug on one odd file: recorded as its failure, never retried forever
            log.debug("unexpected error ingesting %s", source, exc_info=True)
            message = f"Unexpected error ({exc.__class__.__name__}: {exc}); please report it."
            self.service.ledger.record_failure(source, "", message)
            self.on_event("failed", f"{shown}: {message}")
            raise
        detail = f"{shown} ({chunks} chunks)" if chunks else shown
        if moved_from is not None:
            detail += f" <- {printable(moved_from)}"
        return self._done(outcome.value, detail, started)

    def ingest_moved(self, source: str, moved_from: str) -> str:
        """A file moved from ``moved_from`` to ``source``: ingest it at its new path (reusing the vectors
        of the document at the old one), then queue the old path, whose job removes that document under
        the old path's lock, whatever happened here (a move job never leaves the old document behind)."""
        try:
            return self.ingest_path(source, moved_from=moved_from)
        finally:
            self.queue.enqueue_path(moved_from)

    def ingest_upload(
        self, job_id: int, staged: Path, target: Path, access: list[str] | None, *, last_attempt: bool = False
    ) -> str:
        """An upload stored by the API: parsed from its staged copy, which replaces ``target`` only once
        it has parsed (an unreadable upload never replaces an earlier good one of the same name).
        ``last_attempt``: no retry follows if the embedder or the store is down now."""
        started = time.monotonic()
        try:
            if staged.exists():
                parsed = dataclasses.replace(self.service.parse(staged), title=title_from_name(target))
                staged.replace(target)
            elif target.exists():  # a retry: the first attempt put it in place, then the embedder was down
                parsed = dataclasses.replace(self.service.parse(target), title=title_from_name(target))
            else:
                raise DocumentError(
                    "The stored upload is not on this worker's disk: the uploads folder must be a volume "
                    "every worker mounts at the same path."
                )
            outcome, _ = self.service.ingest_file(target, parsed, access, set_access=True)
            document = self.service.ledger.by_source(source_of(target))
        except StaleWriteError:
            document, outcome = self.service.ledger.by_source(source_of(target)), Outcome.UPDATED
        except ServiceUnavailableError as exc:
            if last_attempt:
                self._give_up_upload(job_id, staged, target, exc)
            else:
                self.on_event("retrying", f"{target.name}: {exc.message}")
            raise
        except RagError as exc:
            staged.unlink(missing_ok=True)
            self.queue.record_result(job_id, error_code=exc.code, error=exc.message)
            self.on_event("failed", f"{target.name}: {exc.message}")
            raise
        except Exception as exc:
            staged.unlink(missing_ok=True)
            log.debug("unexpected error ingesting upload %s", target, exc_info=True)
            message = f"{target.name} could not be ingested ({type(exc).__name__}): see the worker's log."
            self.queue.record_result(job_id, error_code="rag_error", error=message)
            raise
        self.queue.record_result(job_id, outcome=outcome.value, doc_id=document.doc_id if document else None)
        return self._done(outcome.value, f"{target.name} (upload)", started)

    def _give_up_upload(self, job_id: int, staged: Path, target: Path, exc: ServiceUnavailableError) -> None:
        """Every attempt found the embedder or the store down. The job fails with the reason, and the
        upload is not lost silently: a new document's copy goes back to the job's hidden stored file
        (the uploads folder then holds only ingested documents), kept until the job itself is removed
        after RAG_JOB_RETENTION_DAYS, for an admin to recover. A new version of a document already in
        the index stays in place under its name: the earlier version's file was replaced by the attempt
        that put it there, and the next upload or scan of it brings the index up to date."""
        attempts = self.queue.settings.max_attempts
        reason = f"{target.name} was not ingested: {exc.message} (at all {attempts} attempts)."
        if (
            not staged.exists()
            and target.exists()
            and self.service.ledger.by_source(source_of(target)) is None
        ):
            target.replace(staged)
        if staged.exists():
            days = self.queue.settings.retention_days
            kept = f"for {days} days (RAG_JOB_RETENTION_DAYS)" if days else "until an admin removes it"
            reason += (
                f" The uploaded file is kept on the server {kept}; upload it again once /ready says ready."
            )
            self.on_event("failed", f"{target.name}: {exc.message}; kept as {printable(str(staged))}")
        else:
            reason += " The index still has its earlier version; upload it again once /ready says ready."
            self.on_event("failed", f"{target.name}: {exc.message}")
        self.queue.record_result(job_id, error_code=exc.code, error=reason)

    def scan(self, root: str) -> str:
        """The periodic scan: queue the next one first, so a scan cut short never ends the chain."""
        interval = self.queue.settings.scan_interval_s
        if interval > 0:
            self.queue.schedule_scan(root, in_s=interval)
        folder = Path(root)
        if not folder.is_dir():
            self.on_event("scan", f"{printable(root)} is not a folder; nothing queued")
            return "missing"
        report = scan(self.service, self.queue, folder)
        self.on_event("scanned", f"{printable(root)}: {describe_scan(report)}")
        return f"{report.queued} queued"

    def on_stalled(self, task_name: str, kwargs: dict[str, Any]) -> None:
        what = kwargs.get("source") or kwargs.get("target") or kwargs.get("root") or task_name
        self.on_event("stalled", f"{printable(str(what))}: its worker stopped answering; queued again")

    def _done(self, what: str, detail: str, started: float) -> str:
        self.jobs_done += 1
        self.on_event(what, f"{detail} in {time.monotonic() - started:.1f} s")
        return what

    def _failure_recorded(self, source: str) -> bool:
        return any(f.source == source for f in self.service.ledger.failures())


def describe_scan(report: ScanReport) -> str:
    text = (
        f"queued {report.queued} (new {report.new}, changed {report.changed}, deleted {report.deleted}), "
        f"unchanged {report.unchanged}"
    )
    if report.already_queued:
        text += f", {report.already_queued} already waiting"
    if report.failed_before:
        text += f", {report.failed_before} failed before and not changed since"
    return text


def _warm_up(service: IngestService) -> None:
    """Start the parse process now (a fresh interpreter: seconds), so the first job is not the slow one
    and a worker that takes a job is ready to work on it."""
    with tempfile.TemporaryDirectory(prefix="rag-worker-") as folder:
        probe = Path(folder) / "warm-up.txt"
        probe.write_text("The parse process is ready.", encoding="utf-8")
        service.parse(probe)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def run_worker(settings: Settings, on_event: OnEvent) -> int:
    """Take jobs until SIGTERM or SIGINT (then finish the job in hand and stop). Returns jobs done."""
    queue = IngestQueue(queue_settings(settings))
    queue.prepare()
    # One job at a time needs one parse process: more workers, not more parse processes, use more cores.
    settings = settings.model_copy(update={"ingest_workers": 1})
    kb = KnowledgeBase(settings)
    service = IngestService(kb)
    try:
        try:
            _ = kb.store  # load the embedder and open the store now, not on the first job
        except ServiceUnavailableError as exc:  # jobs retry with backoff until it is up
            on_event("waiting", f"{exc.message} Taking jobs anyway; they are retried until it is up.")
        _warm_up(service)
        runner = JobRunner(service, queue, on_event)
        if settings.watch_dir is not None and settings.scan_interval_s > 0:
            queue.app.open()  # the sync pool, for this one defer; the worker opens its own
            try:
                queue.schedule_scan(source_of(settings.watch_dir))
            finally:
                queue.app.close()
        stalled = settings.worker_stalled_after_s
        try:
            queue.app.run_worker(
                name=worker_name(),
                queues=[queue.name],
                concurrency=1,
                additional_context={RUNNER: runner},
                update_heartbeat_interval=max(stalled / 3, 1.0),
                stalled_worker_timeout=stalled,
                install_signal_handlers=True,
            )
        except (ConnectorException, psycopg.OperationalError) as exc:
            # The database went away under the worker: its job is retried by another one (or by this
            # one, restarted) once it is back, as for any dead worker.
            raise unreachable(queue.settings.database_url, exc) from exc
        return runner.jobs_done
    finally:
        service.close()
        kb.close()
