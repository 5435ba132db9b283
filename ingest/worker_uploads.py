"""Uploads handed to `rag worker` processes through the ingest queue (RAG_DATABASE_URL set): the API
stores the file and queues it; a worker ingests it. The same face as ingest.jobs.UploadJobs (submit,
get, wait), so the upload route and GET /v1/jobs/{id} work the same with or without workers; only here
the job lives in PostgreSQL, and any API replica can report on it."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ingest.jobs import Job, JobStatus
from ingest.ledger import Ledger
from ingest.service import IngestService, Outcome
from rag.config import Settings
from rag.errors import ConfigError, RagError, ServiceUnavailableError

if TYPE_CHECKING:  # the queue's packages come with the `scale` extra: imported only when it is used
    from ingest.queue import IngestQueue, JobRow
    from ingest.worker import FolderJobs

_POLL_S = 0.25  # how often an upload with ?wait=true looks at its job


def require_queue_packages() -> None:
    """A clear error, not an ImportError, when RAG_DATABASE_URL is set without the `scale` extra."""
    try:
        import procrastinate  # noqa: F401
        import psycopg_pool  # noqa: F401
    except ImportError as exc:
        raise ConfigError(
            f"The ingest queue needs packages that are not installed ({exc.name}): "
            "pip install 'private-rag[scale]', or unset RAG_DATABASE_URL to ingest in one process."
        ) from exc


def open_uploads(settings: Settings, ledger: Ledger) -> QueuedUploads:
    """Uploads through the queue in RAG_DATABASE_URL, for a server whose uploads `rag worker` ingests."""
    require_queue_packages()
    from ingest.worker import open_queue

    return QueuedUploads(open_queue(settings), ledger)


@dataclass(eq=False)
class QueuedJob(Job):
    """An upload job read from the queue; :meth:`wait` polls it there."""

    uploads: QueuedUploads | None = None

    def wait(self, timeout: float | None = None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.status not in (JobStatus.DONE, JobStatus.FAILED):
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(_POLL_S)
            fresh = self.uploads.get(self.id) if self.uploads else None
            if fresh is not None:
                self.status, self.finished_at, self.outcome = fresh.status, fresh.finished_at, fresh.outcome
                self.document, self.error = fresh.document, fresh.error
        return True


class QueuedUploads:
    def __init__(self, queue: IngestQueue, ledger: Ledger) -> None:
        self._queue = queue
        self._ledger = ledger

    def submit(self, staged: Path, target: Path, access: list[str] | None = None) -> Job:
        """Queue ``staged`` (stored on the uploads volume) to be ingested as ``target``."""
        return self._job(self._queue.enqueue_upload(staged, target, access))

    def get(self, job_id: str) -> Job | None:
        if not job_id.isdigit() or len(job_id) > 18:
            return None
        row = self._queue.upload_job(int(job_id))
        return None if row is None else self._job(row)

    def folder_jobs(self, service: IngestService) -> FolderJobs:
        """The folder watcher's way to queue files on this server's queue, for the workers."""
        from ingest.worker import FolderJobs

        return FolderJobs(service, self._queue)

    @property
    def running(self) -> bool:
        return False  # the workers run the jobs, not this process

    def close(self, timeout_s: float = 5.0) -> None:
        self._queue.close()  # queued jobs stay queued: the workers carry on without this server

    def _job(self, row: JobRow) -> QueuedJob:
        job = QueuedJob(
            id=str(row.id),
            target=Path(row.file),
            staged=Path(),
            created_at=row.created_at,
            finished_at=row.finished_at,
            uploads=self,
        )
        if row.finished_at is not None:
            if row.error is not None:
                job.status, job.error = JobStatus.FAILED, _error(row.error_code, row.error)
            else:
                job.status = JobStatus.DONE
                job.outcome = Outcome(row.outcome) if row.outcome else None
                job.document = self._ledger.get(row.doc_id) if row.doc_id else None
        elif row.queue_status == "todo":
            job.status = JobStatus.QUEUED  # also while waiting to retry (the embedder was down)
        elif row.queue_status == "doing":
            job.status = JobStatus.RUNNING
        else:  # failed without a result: every attempt found the embedder or the store down
            job.status = JobStatus.FAILED
            job.error = ServiceUnavailableError(
                f"{row.file} was not ingested: the embedder or the store was down at every attempt. "
                "Upload it again once `/ready` says the server is ready."
            )
        return job


def _error(code: str | None, message: str) -> RagError:
    """The error a worker recorded, as its class again, so the API answers it with the class's status
    (503 for an embedder that was down, not 500)."""
    cls = next((c for c in _error_classes(RagError) if c.code == code), RagError)
    try:
        error = cls(message)
    except TypeError:  # an error class that needs more than a message
        error = RagError(message)
    error.code = code or RagError.code
    return error


def _error_classes(cls: type[RagError]) -> list[type[RagError]]:
    return [cls] + [sub for direct in cls.__subclasses__() for sub in _error_classes(direct)]
