"""The ingest queue against a real PostgreSQL (tests/support/postgres.py): its schema, coalescing, upload
jobs, the retry policy, and the errors a user sees when the database is missing or down."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner
from procrastinate.jobs import Job as QueueJob
from support.concurrent import run_at_once
from support.processes import free_port

from api.cli import cli
from ingest.queue import MOVE_TASK, PATH_TASK, IngestQueue, QueueSettings, backoff_s
from rag.errors import DocumentError, EmbedderUnavailableError, ServiceUnavailableError, StoreError


@pytest.fixture
def queue(postgres_url: str) -> Iterator[IngestQueue]:
    with IngestQueue(QueueSettings(postgres_url, collection="kb", max_attempts=4)) as opened:
        yield opened


def test_the_schema_is_created_once_by_processes_starting_together(postgres_url: str) -> None:
    _, errors = run_at_once(lambda: IngestQueue(QueueSettings(postgres_url)).prepare())
    IngestQueue(QueueSettings(postgres_url)).prepare()  # and again on the next start
    assert errors == []
    with psycopg.connect(postgres_url) as conn:
        tables = {row[0] for row in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname='public'")}
    assert {"procrastinate_jobs", "procrastinate_workers", "rag_job_results"} <= tables


def test_repeated_saves_of_a_file_coalesce_into_one_waiting_job(queue: IngestQueue) -> None:
    assert queue.enqueue_path("/docs/a.txt") is True
    assert [queue.enqueue_path("/docs/a.txt") for _ in range(4)] == [False] * 4
    assert queue.enqueue_paths(["/docs/b.txt", "/docs/a.txt", "/docs/b.txt"]) == (1, 2)
    assert queue.counts() == {"todo": 2}
    assert queue.files_in_progress() == 2


def test_a_move_is_a_job_of_the_new_path_and_coalesces_with_one_already_waiting(queue: IngestQueue) -> None:
    def waiting() -> list[tuple[str, str, str | None]]:
        with psycopg.connect(queue.settings.database_url) as conn:
            rows = conn.execute(
                "SELECT task_name, args->>'source', args->>'moved_from' FROM procrastinate_jobs "
                "WHERE status = 'todo' ORDER BY id"
            ).fetchall()
        return [(str(task), str(source), moved) for task, source, moved in rows]

    assert queue.enqueue_move("/docs/archive/a.txt", "/docs/a.txt") is True
    assert queue.enqueue_path("/docs/archive/a.txt") is False  # the move job reads the file as it is then
    assert queue.enqueue_move("/docs/archive/a.txt", "/docs/a.txt") is False  # a second replica saw it
    assert waiting() == [(MOVE_TASK, "/docs/archive/a.txt", "/docs/a.txt")]
    # A job for the new path already waits: it ingests the file (nothing reused); the old path is queued.
    assert queue.enqueue_path("/docs/b.txt") is True
    assert queue.enqueue_move("/docs/b.txt", "/docs/old-b.txt") is False
    assert waiting()[1:] == [(PATH_TASK, "/docs/b.txt", None), (PATH_TASK, "/docs/old-b.txt", None)]
    assert queue.files_in_progress() == 3


def test_each_knowledge_base_has_its_own_queue_and_locks(postgres_url: str, queue: IngestQueue) -> None:
    with IngestQueue(QueueSettings(postgres_url, collection="other")) as other:
        assert queue.enqueue_path("/docs/a.txt") is True
        assert other.enqueue_path("/docs/a.txt") is True  # same path, another knowledge base
        assert other.name != queue.name
        assert (queue.files_in_progress(), other.files_in_progress()) == (1, 1)
    with psycopg.connect(postgres_url) as conn:
        queues = sorted(r[0] for r in conn.execute("SELECT queue_name FROM procrastinate_jobs").fetchall())
    assert queues == ["ingest.kb", "ingest.other"]


def test_an_upload_is_queued_with_its_status_row(queue: IngestQueue, tmp_path: Path) -> None:
    job = queue.enqueue_upload(tmp_path / ".x.part.txt", tmp_path / "report.txt", ["hr"])
    row = queue.upload_job(job.id)
    assert row is not None
    assert (row.file, row.queue_status, row.finished_at) == ("report.txt", "todo", None)
    # Two uploads of one name are two jobs (never coalesced), run one after the other (one lock).
    second = queue.enqueue_upload(tmp_path / ".y.part.txt", tmp_path / "report.txt", None)
    assert second.id != job.id
    with psycopg.connect(queue.settings.database_url) as conn:
        locks = {r[0] for r in conn.execute("SELECT lock FROM procrastinate_jobs").fetchall()}
        args = conn.execute("SELECT args FROM procrastinate_jobs WHERE id = %s", (job.id,)).fetchone()
    assert len(locks) == 1
    assert args is not None and args[0]["access"] == ["hr"]
    queue.record_result(job.id, outcome="added", doc_id="d1")
    done = queue.upload_job(job.id)
    assert done is not None and (done.outcome, done.doc_id) == ("added", "d1") and done.finished_at


def _job(attempts: int) -> QueueJob:
    return QueueJob(id=1, queue="ingest.kb", lock=None, queueing_lock=None, task_name="t", attempts=attempts)


def test_a_service_outage_is_retried_with_bounded_exponential_backoff(queue: IngestQueue) -> None:
    strategy = queue._path_task.retry_strategy
    assert strategy is not None
    down = EmbedderUnavailableError("Ollama is down")
    waits = []
    for attempts in range(3):
        decision = strategy.get_retry_decision(exception=down, job=_job(attempts))
        assert decision is not None and decision.retry_at is not None
        waits.append(backoff_s(attempts))
    assert waits == [2, 4, 8]
    assert backoff_s(30) == 300  # bounded
    assert strategy.get_retry_decision(exception=down, job=_job(3)) is None  # the 4th attempt was the last


@pytest.mark.parametrize("error", [DocumentError("not a PDF"), StoreError("disk"), ValueError("bug")])
def test_other_errors_are_not_retried(queue: IngestQueue, error: Exception) -> None:
    strategy = queue._path_task.retry_strategy
    assert strategy is not None
    assert strategy.get_retry_decision(exception=error, job=_job(0)) is None


def test_an_unreachable_database_is_one_clear_error_without_the_password() -> None:
    url = f"postgresql://rag:hunter2@127.0.0.1:{free_port()}/rag"
    with pytest.raises(ServiceUnavailableError) as caught:
        IngestQueue(QueueSettings(url)).prepare()
    message = caught.value.message
    assert "RAG_DATABASE_URL" in message and "rag on 127.0.0.1" in message
    assert "hunter2" not in message


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    import os

    for key in list(os.environ):
        if key.startswith("RAG_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("RAG_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("command", [["worker"], ["scan", "."]])
def test_worker_commands_say_what_to_set_without_a_database(cli_env: Path, command: list[str]) -> None:
    result = CliRunner().invoke(cli, command)
    assert result.exit_code == 1
    assert "set RAG_DATABASE_URL" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("command", [["worker"], ["scan", "."]])
def test_worker_commands_say_when_the_database_is_down(
    cli_env: Path, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    monkeypatch.setenv("RAG_DATABASE_URL", f"postgresql://rag:pw@127.0.0.1:{free_port()}/rag")
    result = CliRunner().invoke(cli, command)
    assert result.exit_code == 1
    assert "Cannot reach the PostgreSQL database rag on 127.0.0.1" in result.output
    assert "Traceback" not in result.output


def _finish(url: str, job_id: int, status: str, days_ago: float) -> None:
    """A job taken and finished as a worker does (procrastinate's own function and event triggers),
    ``days_ago``."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("UPDATE procrastinate_jobs SET status = 'doing' WHERE id = %s", (job_id,))
        conn.execute("SELECT procrastinate_finish_job_v1(%s, %s, false)", (job_id, status))
        conn.execute(
            "UPDATE procrastinate_events SET at = at - make_interval(secs => %s) WHERE job_id = %s",
            (days_ago * 86_400, job_id),
        )


def _path_job(url: str, source: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT id FROM procrastinate_jobs WHERE args->>'source' = %s", (source,)
        ).fetchone()
    assert row is not None
    return int(row[0])


def _remaining(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT coalesce(args->>'source', args->>'target') FROM procrastinate_jobs")
        return {str(Path(row[0]).name) for row in rows}


def test_finished_jobs_are_removed_after_the_retention_failed_ones_too_with_their_stored_uploads(
    postgres_url: str, tmp_path: Path
) -> None:
    settings = QueueSettings(postgres_url, collection="kb", retention_days=7)
    with (
        IngestQueue(settings) as queue,
        IngestQueue(QueueSettings(postgres_url, collection="other")) as other,
    ):
        for name in ("old-done", "old-failed", "recent-failed", "old-waiting"):
            queue.enqueue_path(f"/docs/{name}.txt")
        other.enqueue_path("/docs/other-kb-old-done.txt")
        uploads = {}
        for name in ("old-upload", "recent-upload"):
            staged = tmp_path / f".{name}.part.txt"
            staged.write_text("kept while its failed job is")
            uploads[name] = (queue.enqueue_upload(staged, tmp_path / f"{name}.txt", None).id, staged)
        _finish(postgres_url, _path_job(postgres_url, "/docs/old-done.txt"), "succeeded", days_ago=8)
        _finish(postgres_url, _path_job(postgres_url, "/docs/old-failed.txt"), "failed", days_ago=8)
        _finish(postgres_url, _path_job(postgres_url, "/docs/recent-failed.txt"), "failed", days_ago=6)
        _finish(postgres_url, _path_job(postgres_url, "/docs/other-kb-old-done.txt"), "succeeded", days_ago=8)
        _finish(postgres_url, uploads["old-upload"][0], "failed", days_ago=8)
        _finish(postgres_url, uploads["recent-upload"][0], "failed", days_ago=1)
        with psycopg.connect(postgres_url, autocommit=True) as conn:  # waiting for 8 days: not finished
            conn.execute("UPDATE procrastinate_events SET at = at - interval '8 days' WHERE job_id = %s",
                         (_path_job(postgres_url, "/docs/old-waiting.txt"),))  # fmt: skip

        assert queue.remove_old_jobs() == 3
        assert _remaining(postgres_url) == {
            "recent-failed.txt", "old-waiting.txt", "other-kb-old-done.txt", "recent-upload.txt"
        }  # fmt: skip
        old_id, old_staged = uploads["old-upload"]
        recent_id, recent_staged = uploads["recent-upload"]
        assert not old_staged.exists() and queue.upload_job(old_id) is None
        assert recent_staged.exists() and queue.upload_job(recent_id) is not None
        assert queue.remove_old_jobs() == 0  # nothing else is old enough

    # 0 keeps finished jobs; otherwise the workers run the cleanup hourly.
    assert IngestQueue(QueueSettings(postgres_url, collection="kb", retention_days=0)).remove_old_jobs() == 0
    assert len(_remaining(postgres_url)) == 4
    periodic = {p.task.name for p in IngestQueue(settings).app.periodic_registry.periodic_tasks.values()}
    assert "rag_remove_old_jobs" in periodic
    never = IngestQueue(QueueSettings(postgres_url, retention_days=0)).app.periodic_registry.periodic_tasks
    assert "rag_remove_old_jobs" not in {p.task.name for p in never.values()}
