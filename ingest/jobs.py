"""Uploads ingested in the background. An upload is stored first (a hidden file in the uploads folder),
answered with a job id at once, then parsed here by as many threads as the parse pool has workers
(RAG_INGEST_WORKERS) and embedded and written one at a time, so that a slow or hostile file never
holds an HTTP request and a burst of uploads is parsed side by side. Jobs live in memory: the last
``keep`` can be looked up until the server stops; a stored upload whose job never ran is removed at
the next start.
"""

from __future__ import annotations

import dataclasses
import logging
import queue
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from ingest.ledger import now_iso
from ingest.parse import title_from_name
from ingest.service import IngestService, Outcome
from rag.errors import InputError, RagError, ServiceUnavailableError, TooBusyError
from rag.types import DocumentRecord

log = logging.getLogger(__name__)

_STOP = object()
_STOPPED = "The server stopped before this upload was ingested: upload it again."


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


@dataclass(eq=False)
class Job:
    """One stored upload on its way into the index: ``staged`` is the stored bytes, ``target`` the
    name it gets in the uploads folder once it has parsed (an unreadable upload never replaces an
    earlier good one of the same name)."""

    id: str
    target: Path
    staged: Path
    created_at: str
    seq: int = 0  # submission order: of two uploads of one name, the later one is kept
    access: list[str] | None = None  # who may read it (access labels), set by the uploader; None: rules
    status: JobStatus = JobStatus.QUEUED
    finished_at: str | None = None
    outcome: Outcome | None = None
    document: DocumentRecord | None = None
    error: RagError | None = None
    _finished: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def file_name(self) -> str:
        return self.target.name

    def wait(self, timeout: float | None = None) -> bool:
        """True once the job is done or failed."""
        return self._finished.wait(timeout)


class UploadJobs:
    """A queue of upload jobs and the ``workers`` threads that run them. Parsing runs side by side;
    ingest writes hold ``lock`` (shared with the folder watcher and deletes), so the ledger and the
    store see one writer at a time."""

    def __init__(
        self,
        ingest: IngestService,
        lock: threading.Lock,
        *,
        workers: int = 1,
        max_queued: int = 10_000,
        keep: int = 1000,
        on_outcome: Callable[[str], None] | None = None,
    ) -> None:
        self._ingest = ingest
        self._lock = lock
        self._max_queued = max_queued
        self._keep = keep
        self._on_outcome = on_outcome
        self._queue: queue.Queue[Job | object] = queue.Queue()
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._jobs_lock = threading.Lock()
        self._workers = max(workers, 1)
        self._threads: list[threading.Thread] = []
        self._closed = False
        self._submitted = 0
        self._committed: dict[Path, int] = {}  # target -> seq of the upload it now holds

    def submit(self, staged: Path, target: Path, access: list[str] | None = None) -> Job:
        """Queue ``staged`` (already stored) to be ingested as ``target``. Raises TooBusyError when
        ``max_queued`` uploads are already waiting: the caller keeps the file and retries later. The
        bound is high: a waiting upload is a file on disk (kept within RAG_MIN_FREE_DISK_MB) and a few
        hundred bytes of memory, and a user dropping a folder of files must not be refused."""
        with self._jobs_lock:
            if self._closed:
                raise ServiceUnavailableError("The server is stopping: upload the file again once it is up.")
            waiting = self._queue.qsize()  # queued jobs; a running one has left the queue
            if waiting >= self._max_queued:
                raise TooBusyError(
                    f"{waiting} uploads are waiting to be ingested: try again in a minute.", retry_after_s=60
                )
            self._submitted += 1
            job = Job(
                id=uuid.uuid4().hex,
                target=target,
                staged=staged,
                created_at=now_iso(),
                seq=self._submitted,
                access=access,
            )
            self._jobs[job.id] = job
            self._forget_old_jobs()
            if not self._threads:
                self._threads = [
                    threading.Thread(target=self._run, name=f"upload-jobs-{n}", daemon=True)
                    for n in range(self._workers)
                ]
                for thread in self._threads:
                    thread.start()
        self._queue.put(job)
        return job

    def get(self, job_id: str) -> Job | None:
        with self._jobs_lock:
            return self._jobs.get(job_id)

    @property
    def running(self) -> bool:
        with self._jobs_lock:
            return any(job.status == JobStatus.RUNNING for job in self._jobs.values())

    def close(self, timeout_s: float = 5.0) -> None:
        """Stop taking jobs; jobs still queued fail with a reason and their stored files are removed.
        A running job is left to the caller to interrupt (the parse sandbox is aborted on shutdown)."""
        with self._jobs_lock:
            self._closed = True
            threads = list(self._threads)
        for _ in threads:
            self._queue.put(_STOP)
        deadline = time.monotonic() + timeout_s
        for thread in threads:
            thread.join(max(deadline - time.monotonic(), 0))
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if isinstance(item, Job):
                self._fail(item, ServiceUnavailableError(_STOPPED))
        for _ in threads:
            self._queue.put(_STOP)  # for workers still busy with a job: they end after that one

    # -- the worker ----------------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if not isinstance(item, Job):
                return
            if self._closed:
                self._fail(item, ServiceUnavailableError(_STOPPED))
                continue
            self._process(item)

    def _process(self, job: Job) -> None:
        job.status = JobStatus.RUNNING
        try:
            parsed = dataclasses.replace(self._ingest.parse(job.staged), title=title_from_name(job.target))
            with self._lock:
                if self._committed.get(job.target, 0) > job.seq:
                    raise InputError(
                        f"A newer upload of {job.file_name} was ingested while this one was being read; "
                        "the newer one was kept."
                    )
                job.staged.replace(job.target)
                self._committed[job.target] = job.seq
                outcome, _ = self._ingest.ingest_file(job.target, parsed, job.access, set_access=True)
            document = self._ingest.ledger.by_source(str(job.target.resolve()))
        except RagError as exc:
            # A parse cut short by shutdown is not the file's fault: say so rather than blame the file.
            self._fail(job, ServiceUnavailableError(_STOPPED) if self._closed else exc)
            return
        except Exception as exc:  # a bug must fail one job, never the worker
            log.exception("upload job %s (%s) failed", job.id, job.file_name)
            reason = f"{job.file_name} could not be ingested ({type(exc).__name__}): see the server log."
            self._fail(job, RagError(reason))
            return
        job.outcome, job.document = outcome, document
        self._finish(job, JobStatus.DONE)
        if self._on_outcome is not None:
            self._on_outcome(outcome.value)

    def _fail(self, job: Job, error: RagError) -> None:
        job.staged.unlink(missing_ok=True)
        job.error = error
        self._finish(job, JobStatus.FAILED)
        if self._on_outcome is not None:
            self._on_outcome("failed")

    def _finish(self, job: Job, status: JobStatus) -> None:
        job.finished_at = now_iso()
        job.status = status
        job._finished.set()

    def _forget_old_jobs(self) -> None:
        """Keep at most ``keep`` jobs, dropping the oldest finished ones first."""
        excess = len(self._jobs) - self._keep
        if excess <= 0:
            return
        finished = [j.id for j in self._jobs.values() if j.status in (JobStatus.DONE, JobStatus.FAILED)]
        for job_id in finished[:excess]:
            del self._jobs[job_id]
