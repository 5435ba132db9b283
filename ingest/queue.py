"""The ingest queue on PostgreSQL (RAG_DATABASE_URL), which `rag worker` processes on any number of boxes
take jobs from. Without RAG_DATABASE_URL nothing here is used: ingest stays in one process.

Built on procrastinate, in the same database as the ledger. One job per file path, keyed by the path:

* a *queueing lock* per path: while a job for a path waits, another one for it is not added, so a file
  saved ten times before a worker gets to it is ingested once (the job reads the file as it is then);
* a *lock* per path: two workers never work on one file at once, and jobs of one path run in the order
  they were added; a move the watcher saw is a job of the new path (under its locks) that reuses the old
  document's vectors, then queues the old path;
* a job whose embedder or store is down (ServiceUnavailableError) is retried with exponential backoff,
  bounded in delay and attempts (the next scan enqueues the file again); any other error is recorded as
  the file's failure in the ledger (as `rag ingest` does) and the job is not retried;
* a job of a worker that died (SIGKILL, power loss) stays "doing" with a heartbeat that stops; a periodic
  task finds it (procrastinate's ``get_stalled_jobs``, by heartbeat) and puts it back in the queue. The
  redo is safe because ingest is idempotent: deterministic chunk ids, store first and ledger last.

Uploads are jobs too: the API stores the file and adds the job and its status row in one transaction, so
every job id it hands out can be looked up, and no upload is queued without its row.

Finished jobs (succeeded or failed alike, so a failure stays visible) are removed once they are older
than ``retention_days``, by an hourly task on the workers, with the stored copy of an upload that failed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import procrastinate
import psycopg
import psycopg_pool
from procrastinate import exceptions as queue_errors
from procrastinate.job_context import JobContext
from procrastinate.jobs import Job as QueueJob
from procrastinate.retry import BaseRetryStrategy, RetryDecision
from procrastinate.types import JSONValue
from psycopg.conninfo import conninfo_to_dict

from rag.errors import ConfigError, ServiceUnavailableError

log = logging.getLogger(__name__)

PATH_TASK = "rag_ingest_path"
MOVE_TASK = "rag_ingest_moved"  # a path job that may reuse the vectors of the path the file left
FILE_TASKS = (PATH_TASK, MOVE_TASK)
UPLOAD_TASK = "rag_ingest_upload"
SCAN_TASK = "rag_scan"
STALLED_TASK = "rag_retry_stalled_jobs"
CLEANUP_TASK = "rag_remove_old_jobs"
RUNNER = "runner"  # the worker's JobRunner, in each job's context
# Maintenance before files: a stalled job holds its file's lock until it is put back.
_MAINTENANCE_PRIORITY = 10
_STALLED_CHECK_CRON = "* * * * * */10"  # every 10 seconds (procrastinate's sixth column: seconds)
_CLEANUP_CRON = "17 * * * *"  # hourly: a retention counted in days needs no more
_FINISHED = ["succeeded", "failed", "cancelled", "aborted"]
_SCHEMA_LOCK = 0x7261675F71  # pg_advisory_xact_lock key: one process applies the schema at a time
_CONNECT_TIMEOUT_S = 10
# Backoff when the embedder or store is down: 2, 4, 8, ... seconds, at most this long.
_BACKOFF_FIRST_S = 2
_BACKOFF_MAX_S = 300

_RESULTS_SCHEMA = """
CREATE TABLE IF NOT EXISTS rag_job_results (
    job_id      bigint PRIMARY KEY,
    file        text NOT NULL,
    created_at  text NOT NULL,
    finished_at text,
    outcome     text,
    doc_id      text,
    error_code  text,
    error       text
)
"""

# Failed uploads about to be removed, by the rule of procrastinate's delete_old_jobs (its last event).
_EXPIRED_FAILED_UPLOADS = """
SELECT job.args->>'staged' FROM procrastinate_jobs job
WHERE job.queue_name = %(queue)s AND job.task_name = %(task)s AND job.status = 'failed'
  AND (SELECT max(event.at) FROM procrastinate_events event WHERE event.job_id = job.id)
      < NOW() - make_interval(hours => %(nb_hours)s)
"""


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def describe_database(url: str) -> str:
    """The database a URL names, without its password: for messages and logs."""
    try:
        parts = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "RAG_DATABASE_URL (not a valid PostgreSQL URL)"
    host = parts.get("host") or "localhost"
    return f"{parts.get('dbname') or parts.get('user') or 'postgres'} on {host}:{parts.get('port') or 5432}"


def unreachable(url: str, exc: Exception) -> ServiceUnavailableError:
    # procrastinate wraps the driver's error in a vague one ("Database error."): say what psycopg said.
    cause = exc.__cause__ if isinstance(exc, queue_errors.ConnectorException) and exc.__cause__ else exc
    reason = " ".join(str(cause).split()).rstrip(".") or cause.__class__.__name__
    return ServiceUnavailableError(
        f"Cannot reach the PostgreSQL database {describe_database(url)} (RAG_DATABASE_URL): {reason}. "
        "Start PostgreSQL or fix RAG_DATABASE_URL (postgresql://user:password@host:5432/dbname)."
    )


class Backoff(BaseRetryStrategy):
    """Retry a job whose embedder or store is down, waiting twice as long each time (capped); give up
    after ``max_attempts``. Any other error is the file's (or a bug): retrying would fail the same way."""

    def __init__(self, max_attempts: int) -> None:
        self.max_attempts = max_attempts

    def get_retry_decision(self, *, exception: BaseException, job: QueueJob) -> RetryDecision | None:
        # job.attempts counts the attempts before this one.
        if not isinstance(exception, ServiceUnavailableError) or job.attempts + 1 >= self.max_attempts:
            return None
        return RetryDecision(retry_in={"seconds": backoff_s(job.attempts)})


def backoff_s(attempts_before: int) -> int:
    return int(min(_BACKOFF_FIRST_S * 2**attempts_before, _BACKOFF_MAX_S))


@dataclass(frozen=True, slots=True)
class QueueSettings:
    database_url: str
    collection: str = "private_rag"  # knowledge bases sharing a database have a queue each
    max_attempts: int = 8
    scan_interval_s: float = 300.0
    stalled_after_s: float = 30.0
    retention_days: int = 7  # 0: finished jobs are kept


@dataclass(frozen=True, slots=True)
class JobRow:
    """An upload job as GET /v1/jobs/{id} reports it."""

    id: int
    file: str
    created_at: str
    queue_status: str | None  # procrastinate's: todo, doing, succeeded, failed, ...; None: pruned
    finished_at: str | None
    outcome: str | None
    doc_id: str | None
    error_code: str | None
    error: str | None


class IngestQueue:
    """The queue's procrastinate app and what the API, `rag scan` and the workers do with it."""

    def __init__(self, settings: QueueSettings) -> None:
        self.settings = settings
        self.name = f"ingest.{settings.collection}"  # the procrastinate queue the workers listen to
        self.app = procrastinate.App(
            connector=procrastinate.PsycopgConnector(conninfo=settings.database_url),
        )
        self._pool: psycopg_pool.ConnectionPool | None = None
        self._register_tasks()

    # -- set-up --------------------------------------------------------------------------------------

    def prepare(self) -> None:
        """Check the database answers and create the queue's tables if they are not there. Safe to run
        from many processes at once (an advisory lock), and on every start (nothing is re-created)."""
        url = self.settings.database_url
        try:
            with (
                psycopg.connect(url, connect_timeout=_CONNECT_TIMEOUT_S, autocommit=True) as conn,
                conn.transaction(),
            ):
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
                row = conn.execute("SELECT to_regclass('procrastinate_jobs') IS NOT NULL").fetchone()
                if not (row and row[0]):
                    conn.execute(procrastinate.schema.SchemaManager.get_schema())
                conn.execute(_RESULTS_SCHEMA)
        except psycopg.OperationalError as exc:
            raise unreachable(url, exc) from exc

    def open(self) -> IngestQueue:
        """Open a connection pool for deferring jobs and reading their status (the API, `rag scan`).
        A worker does not call this: procrastinate opens its own pool around the worker."""
        self.prepare()
        pool = psycopg_pool.ConnectionPool(
            self.settings.database_url, min_size=1, max_size=4, open=False, timeout=_CONNECT_TIMEOUT_S
        )
        try:
            pool.open(wait=True, timeout=_CONNECT_TIMEOUT_S)
        except psycopg_pool.PoolTimeout as exc:
            raise unreachable(self.settings.database_url, exc) from exc
        self._pool = pool
        self.app.open(pool)
        return self

    def close(self) -> None:
        if self._pool is not None:
            self.app.close()
            self._pool.close()
            self._pool = None

    def __enter__(self) -> IngestQueue:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _register_tasks(self) -> None:
        retry = Backoff(self.settings.max_attempts)
        task, queue = self.app.task, self.name
        self._path_task = task(name=PATH_TASK, queue=queue, pass_context=True, retry=retry)(_run_path)
        self._move_task = task(name=MOVE_TASK, queue=queue, pass_context=True, retry=retry)(_run_moved)
        self._upload_task = task(name=UPLOAD_TASK, queue=queue, pass_context=True, retry=retry)(_run_upload)
        self._scan_task = task(name=SCAN_TASK, queue=queue, pass_context=True, retry=retry)(_run_scan)
        stalled = task(
            name=STALLED_TASK,
            queue=queue,
            pass_context=True,
            queueing_lock=self._key(STALLED_TASK),
            priority=_MAINTENANCE_PRIORITY,
        )(_retry_stalled_jobs)
        # periodic_id: knowledge bases sharing a database each get their tick (deduplicated per id).
        self.app.periodic(cron=_STALLED_CHECK_CRON, periodic_id=self.settings.collection)(stalled)

        def remove_old_jobs(timestamp: int) -> str:
            return f"{self.remove_old_jobs()} old jobs removed"

        cleanup = task(
            name=CLEANUP_TASK,
            queue=queue,
            queueing_lock=self._key(CLEANUP_TASK),
            priority=_MAINTENANCE_PRIORITY,
        )(remove_old_jobs)
        if self.settings.retention_days > 0:
            self.app.periodic(cron=_CLEANUP_CRON, periodic_id=self.settings.collection)(cleanup)

    # -- adding jobs ---------------------------------------------------------------------------------

    def enqueue_path(self, source: str) -> bool:
        """Queue ``source`` (an absolute path) to be brought up to date: ingested, updated, or removed if
        the file is gone. False if a job for it was already waiting (the two coalesce)."""
        return self._defer_file_job(self._path_task, source)

    def enqueue_move(self, source: str, moved_from: str) -> bool:
        """Queue ``source``, a file that was at ``moved_from`` (absolute paths), to be ingested reusing
        the vectors of the document there; the job then queues ``moved_from`` (a path job removes that
        document, under its own lock). Under ``source``'s locks, as a path job. False if a job for
        ``source`` was already waiting: the same move (the replicas watching one folder each see it)
        needs nothing more; any other job ingests the file without reusing, and ``moved_from`` is queued
        here."""
        if self._defer_file_job(self._move_task, source, moved_from=moved_from):
            return True
        if self._waiting_move_from(self._key(source)) != moved_from:
            self.enqueue_path(moved_from)
        return False

    def _defer_file_job(self, task: Any, source: str, **args: JSONValue) -> bool:
        """Queue one job of a file under the path's lock and queueing lock; False if one was waiting."""
        key = self._key(source)
        try:
            task.configure(lock=key, queueing_lock=key).defer(source=source, **args)
        except queue_errors.AlreadyEnqueued:
            return False
        except queue_errors.ConnectorException as exc:
            raise unreachable(self.settings.database_url, exc) from exc
        return True

    def _waiting_move_from(self, key: str) -> str | None:
        with self._connection() as conn:
            row = conn.execute(
                "SELECT args->>'moved_from' FROM procrastinate_jobs WHERE queueing_lock = %s "
                "AND status = 'todo' AND task_name = %s",
                (key, MOVE_TASK),
            ).fetchone()
        return str(row[0]) if row and row[0] is not None else None

    def enqueue_paths(self, sources: Iterable[str]) -> tuple[int, int]:
        """(queued, already waiting)."""
        queued = waiting = 0
        for source in sources:
            if self.enqueue_path(source):
                queued += 1
            else:
                waiting += 1
        return queued, waiting

    def enqueue_upload(self, staged: Path, target: Path, access: list[str] | None) -> JobRow:
        """Queue a stored upload to be ingested as ``target``, with its status row, in one transaction.
        Uploads of one name share the path's lock: they run one at a time, in the order received."""
        created = now_iso()
        labels: list[JSONValue] | None = None if access is None else list(access)
        with self._connection() as conn, conn.transaction():
            job_id = self._upload_task.configure(lock=self._key(str(target)), connection=conn).defer(
                staged=str(staged), target=str(target), access=labels
            )
            conn.execute(
                "INSERT INTO rag_job_results (job_id, file, created_at) VALUES (%s, %s, %s)",
                (job_id, target.name, created),
            )
        return JobRow(job_id, target.name, created, "todo", None, None, None, None, None)

    def schedule_scan(self, root: str, in_s: float = 0) -> bool:
        """Queue a scan of ``root`` (one waiting scan per folder). False if one is already waiting."""
        key = self._key(f"scan:{root}")
        try:
            self._scan_task.configure(queueing_lock=key, lock=key, schedule_in={"seconds": int(in_s)}).defer(
                root=root
            )
        except queue_errors.AlreadyEnqueued:
            return False
        return True

    def _key(self, what: str) -> str:
        """A lock name: per knowledge base, so two of them may ingest the same path."""
        return f"{self.settings.collection}:{what}"

    # -- reading jobs --------------------------------------------------------------------------------

    def upload_job(self, job_id: int) -> JobRow | None:
        with self._connection() as conn:
            row = conn.execute(
                "SELECT r.job_id, r.file, r.created_at, j.status::text, r.finished_at, r.outcome, r.doc_id, "
                "r.error_code, r.error FROM rag_job_results r "
                "LEFT JOIN procrastinate_jobs j ON j.id = r.job_id WHERE r.job_id = %s",
                (job_id,),
            ).fetchone()
        return JobRow(*row) if row else None

    def record_result(
        self,
        job_id: int,
        *,
        outcome: str | None = None,
        doc_id: str | None = None,
        error_code: str | None = None,
        error: str | None = None,
    ) -> None:
        """An upload job's outcome, for GET /v1/jobs/{id} (procrastinate keeps only the job's status)."""
        with self._connection() as conn:
            conn.execute(
                "UPDATE rag_job_results SET finished_at = %s, outcome = %s, doc_id = %s, error_code = %s, "
                "error = %s WHERE job_id = %s",
                (now_iso(), outcome, doc_id, error_code, error, job_id),
            )

    def remove_old_jobs(self) -> int:
        """Remove this queue's jobs finished more than ``retention_days`` ago, failed ones included (they
        stayed visible as long as the others), and the stored copies of uploads that failed. Returns how
        many jobs went. procrastinate's own cleanup (builtin_tasks.remove_old_jobs) runs the same query;
        it is run here so the failed uploads' files go in the same step as their jobs."""
        hours = self.settings.retention_days * 24
        if hours <= 0:
            return 0
        window = {"queue": self.name, "nb_hours": hours}
        with self._connection() as conn:
            for (staged,) in conn.execute(_EXPIRED_FAILED_UPLOADS, window | {"task": UPLOAD_TASK}):
                remove_failed_upload(Path(staged))
            removed = conn.execute(
                procrastinate.sql.queries["delete_old_jobs"], window | {"statuses": _FINISHED}
            ).rowcount
            conn.execute(  # the status rows of upload jobs that are gone (of any knowledge base)
                "DELETE FROM rag_job_results r WHERE NOT EXISTS "
                "(SELECT 1 FROM procrastinate_jobs j WHERE j.id = r.job_id)"
            )
        if removed:
            log.info("removed %d ingest jobs finished more than %d days ago", removed, hours // 24)
        return int(removed)

    def files_in_progress(self) -> int:
        """Files of this knowledge base queued or being ingested (0: the workers have caught up)."""
        with self._connection() as conn:
            row = conn.execute(
                "SELECT count(*) FROM procrastinate_jobs WHERE queue_name = %s AND task_name = ANY(%s) "
                "AND status IN ('todo', 'doing')",
                (self.name, list(FILE_TASKS)),
            ).fetchone()
        return int(row[0]) if row else 0

    def counts(self) -> dict[str, int]:
        """Jobs by status (todo, doing, succeeded, failed, ...)."""
        with self._connection() as conn:
            rows = conn.execute(
                "SELECT status::text, count(*) FROM procrastinate_jobs GROUP BY status"
            ).fetchall()
        return {str(status): int(n) for status, n in rows}

    def _connection(self) -> Any:
        if self._pool is not None:
            return self._pool.connection()
        try:
            return psycopg.connect(self.settings.database_url, connect_timeout=_CONNECT_TIMEOUT_S)
        except psycopg.OperationalError as exc:
            raise unreachable(self.settings.database_url, exc) from exc


def remove_failed_upload(staged: Path) -> None:
    """The stored copy of an upload whose job failed: a hidden file in the uploads folder, never the
    document of that name (a failed job never leaves its copy under the document's name)."""
    if staged.name.startswith("."):
        staged.unlink(missing_ok=True)


# -- the tasks, run by a worker (ingest.worker.JobRunner does the work) ------------------------------


def _runner(context: JobContext) -> Any:
    runner = (context.additional_context or {}).get(RUNNER)
    if runner is None:
        raise ConfigError("This job runs in `rag worker` only.")
    return runner


def _run_path(context: JobContext, source: str) -> str:
    return str(_runner(context).ingest_path(source))


def _run_moved(context: JobContext, source: str, moved_from: str) -> str:
    return str(_runner(context).ingest_moved(source, moved_from))


def _run_upload(context: JobContext, staged: str, target: str, access: list[str] | None) -> str:
    assert context.job.id is not None
    runner = _runner(context)
    last = context.job.attempts + 1 >= runner.queue.settings.max_attempts  # attempts: those before this one
    return str(runner.ingest_upload(context.job.id, Path(staged), Path(target), access, last_attempt=last))


def _run_scan(context: JobContext, root: str) -> str:
    return str(_runner(context).scan(root))


async def _retry_stalled_jobs(context: JobContext, timestamp: int) -> str:
    """Put the jobs of workers whose heartbeat stopped back in the queue (procrastinate's documented way
    for dead workers). If a newer job for the same file is already waiting, that one will read the file
    as it is now: the stalled one is marked failed instead of queued twice."""
    runner = _runner(context)
    manager = context.app.job_manager
    stalled = await manager.get_stalled_jobs(
        queue=context.job.queue, seconds_since_heartbeat=runner.stalled_after_s
    )
    retried = 0
    for job in stalled:
        assert job.id is not None
        if job.task_name == STALLED_TASK:  # this check itself, cut short: the next tick runs it again
            await manager.finish_job_by_id_async(job.id, procrastinate.jobs.Status.FAILED, delete_job=False)
            continue
        try:
            await manager.retry_job(job)
            retried += 1
        except queue_errors.UniqueViolation:
            await manager.finish_job_by_id_async(job.id, procrastinate.jobs.Status.FAILED, delete_job=False)
        runner.on_stalled(job.task_name, job.task_kwargs)
    return f"{retried} stalled jobs retried"


OnEvent = Callable[[str, str], None]
