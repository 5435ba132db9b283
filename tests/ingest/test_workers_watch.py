"""`rag serve --watch` with RAG_DATABASE_URL: the server's folder watcher queues jobs for the workers and
ingests nothing itself (a worker stays the one writer of a file; replicas watching one folder queue each
change once). Against a real PostgreSQL, the server's own services (open_services, as `rag serve` opens
them) and, for the second test, a real `rag worker` process doing the queued jobs.

Each process has its own embedded store here (no store server to share): the test follows the files
through the shared ledger and the queue's jobs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner
from pydantic import SecretStr
from support.ollama_server import OllamaProtocolServer, hashing_embed

from api.cli import cli
from api.services import Services, open_services
from ingest.queue import FILE_TASKS
from ingest.service import source_of
from rag.config import Settings

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def ollama() -> Iterator[OllamaProtocolServer]:
    with OllamaProtocolServer(models=["nomic-embed-text:latest"], embed=hashing_embed) as server:
        yield server


@pytest.fixture
def watched(tmp_path: Path) -> Path:
    folder = tmp_path / "watched"
    folder.mkdir()
    (folder / "before.md").write_text("# Before\n\nThis file was here before the server started.\n")
    return folder


def server_settings(
    data_dir: Path, watched: Path, postgres_url: str, ollama: OllamaProtocolServer
) -> Settings:
    return Settings(  # type: ignore[call-arg]
        data_dir=data_dir,
        embedder="ollama:nomic-embed-text",
        ollama_host=ollama.url,
        database_url=SecretStr(postgres_url),
        watch_dir=watched,
        watch_debounce_s=0.2,
        llm="none",
        _env_file=None,
    )


@pytest.fixture
def replicas(
    tmp_path: Path, watched: Path, postgres_url: str, ollama: OllamaProtocolServer
) -> Iterator[list[Services]]:
    """Two `rag serve --watch` replicas on the same folder and database."""
    opened: list[Services] = []
    try:
        for name in ("replica-1", "replica-2"):
            settings = server_settings(tmp_path / name, watched, postgres_url, ollama)
            opened.append(open_services(settings, serving=True))
        yield opened
    finally:
        for services in opened:
            services.close()


def path_jobs(url: str, status: str = "todo") -> list[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT args->>'source' FROM procrastinate_jobs WHERE task_name = ANY(%s) AND status = %s "
            "ORDER BY args->>'source'",
            (list(FILE_TASKS), status),
        ).fetchall()
    return [row[0] for row in rows]


def handled(services: Services) -> int:
    """How many paths this replica's watcher has queued or found already waiting."""
    assert services.watcher is not None
    return sum(services.watcher.status.counts.values())


def idle(replicas: list[Services]) -> bool:
    return all(r.watcher is not None and r.watcher.wait_idle(timeout=0.1) for r in replicas)


def eventually(check: Callable[[], object], timeout_s: float = 60) -> None:
    """Wait for an outcome that another thread or process brings about (not a timing assertion)."""
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "gave up waiting"
        time.sleep(0.1)


def test_the_watching_servers_queue_each_change_once_and_ingest_nothing(
    replicas: list[Services], watched: Path, postgres_url: str
) -> None:
    before, new = source_of(watched / "before.md"), source_of(watched / "new.md")
    # On start each replica reconciles the folder, as `rag scan` would: one job for the file found.
    eventually(lambda: idle(replicas))
    assert path_jobs(postgres_url) == [before]

    # Saved three times: still one waiting job, whichever replica saw which save.
    for text in ("one", "two", "three"):
        (watched / "new.md").write_text(f"# New\n\nVersion {text}.\n")
    eventually(lambda: path_jobs(postgres_url) == [before, new])

    # A move and a delete are jobs too: a path whose file is gone is removed by the worker.
    (watched / "new.md").rename(watched / "renamed.md")
    renamed = source_of(watched / "renamed.md")
    eventually(lambda: path_jobs(postgres_url) == sorted([before, new, renamed]))
    seen = [handled(r) for r in replicas]
    (watched / "renamed.md").unlink()
    eventually(lambda: all(handled(r) > n for r, n in zip(replicas, seen, strict=True)) and idle(replicas))
    assert path_jobs(postgres_url) == sorted([before, new, renamed])  # its job was already waiting

    # Nothing was ingested by the servers: the workers are the only writers.
    for services in replicas:
        assert services.ledger.count() == 0
        assert services.watcher is not None
        assert set(services.watcher.status.counts) <= {"queued", "already queued"}


@pytest.fixture
def worker(tmp_path: Path, postgres_url: str, ollama: OllamaProtocolServer) -> Iterator[None]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")} | {
        "RAG_DATA_DIR": str(tmp_path / "worker"),
        "RAG_DATABASE_URL": postgres_url,
        "RAG_EMBEDDER": "ollama:nomic-embed-text",
        "RAG_OLLAMA_HOST": ollama.url,
        "PYTHONPATH": str(ROOT),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "worker"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    yield
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 0, output


def embedded(ollama: OllamaProtocolServer, word: str) -> int:
    """How many texts holding ``word`` the embedder was asked for."""
    return sum(
        word in text
        for request in ollama.requests
        if request.path == "/api/embed" and isinstance(request.body, dict)
        for text in request.body.get("input") or []
    )


@pytest.mark.slow  # a `rag worker` process
def test_a_worker_ingests_what_the_watching_server_queued_moves_and_deletes_included(
    replicas: list[Services], worker: None, watched: Path, postgres_url: str, ollama: OllamaProtocolServer
) -> None:
    ledger = replicas[0].ledger

    def sources() -> set[str]:
        return {record.source for record in ledger.documents()}

    # Made long before the move into it: a file moved into a folder made a moment earlier can arrive
    # before the watch on that folder (inotify adds it on the folder's creation event), and is then
    # seen as a deletion and a new file, not as a move.
    (watched / "archive").mkdir()
    before = source_of(watched / "before.md")
    eventually(lambda: sources() == {before})
    (watched / "new.md").write_text("# New\n\nThe canteen opens at eight.\n")
    eventually(lambda: sources() == {before, source_of(watched / "new.md")})
    assert embedded(ollama, "canteen") == 1
    # Moved into another folder under the same name: the old path's document goes, the new path's
    # comes with the vectors the worker had already computed (nothing embedded again).
    (watched / "new.md").rename(watched / "archive" / "new.md")
    eventually(lambda: sources() == {before, source_of(watched / "archive" / "new.md")})
    assert embedded(ollama, "canteen") == 1
    # Renamed: its title, part of what is embedded, changed, so it is embedded anew.
    (watched / "archive" / "new.md").rename(watched / "moved.md")
    eventually(lambda: sources() == {before, source_of(watched / "moved.md")})
    assert embedded(ollama, "canteen") == 2
    (watched / "before.md").unlink()
    eventually(lambda: sources() == {source_of(watched / "moved.md")})
    eventually(lambda: path_jobs(postgres_url) == [] and path_jobs(postgres_url, "doing") == [])
    assert path_jobs(postgres_url, "failed") == []


def test_rag_watch_with_a_database_queues_the_folder_for_the_workers(
    watched: Path, tmp_path: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in list(os.environ):
        if key.startswith("RAG_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("RAG_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("RAG_DATABASE_URL", postgres_url)
    monkeypatch.setenv("RAG_EMBEDDER", "ollama:nomic-embed-text")  # never reached: nothing is embedded
    monkeypatch.setenv("RAG_OLLAMA_HOST", "http://127.0.0.1:9")
    result = CliRunner().invoke(cli, ["watch", "--once", str(watched)])
    assert result.exit_code == 0, result.output
    assert "queued 1 (new 1" in result.output
    assert path_jobs(postgres_url) == [source_of(watched / "before.md")]
