"""Uploads with RAG_DATABASE_URL set: the API stores the file and queues it (202 and a job id), a real
`rag worker` process ingests it, and GET /v1/jobs/{id} reports on it from the queue in PostgreSQL.

The API and the worker each have their own embedded store here (no store server to share), so the test
follows the upload through the shared ledger and the job, not through a search of the API's store."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from api_support import API_KEY, AUTH, upload
from fastapi.testclient import TestClient
from pydantic import SecretStr
from support.ollama_server import OllamaProtocolServer, hashing_embed

from api.app import create_app
from api.services import Services
from ingest.queue import CLEANUP_TASK, IngestQueue
from ingest.worker import queue_settings
from rag.config import Settings

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow  # a `rag worker` process


@pytest.fixture
def embedder_down() -> threading.Event:
    return threading.Event()


@pytest.fixture
def ollama(embedder_down: threading.Event) -> Iterator[OllamaProtocolServer]:
    def embed(texts: list[str]) -> list[list[float]]:
        if embedder_down.is_set():
            raise RuntimeError("the model runner stopped")  # Ollama answers 500
        return hashing_embed(texts)

    with OllamaProtocolServer(models=["nomic-embed-text:latest"], embed=embed) as server:
        yield server


@pytest.fixture
def api(tmp_path: Path, postgres_url: str, ollama: OllamaProtocolServer) -> Iterator[TestClient]:
    settings = Settings(  # type: ignore[call-arg]
        data_dir=tmp_path / "api",
        embedder="ollama:nomic-embed-text",
        ollama_host=ollama.url,
        database_url=SecretStr(postgres_url),
        api_keys=SecretStr(API_KEY),
        llm="none",
        _env_file=None,
    )
    with TestClient(create_app(settings)) as client:
        yield client


@pytest.fixture
def worker_env() -> dict[str, str]:
    """More settings for the worker (a test parametrizes this)."""
    return {}


@pytest.fixture
def worker(
    tmp_path: Path, postgres_url: str, ollama: OllamaProtocolServer, worker_env: dict[str, str]
) -> Iterator[subprocess.Popen[str]]:
    env = (
        {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
        | {
            "RAG_DATA_DIR": str(tmp_path / "worker"),
            "RAG_DATABASE_URL": postgres_url,
            "RAG_EMBEDDER": "ollama:nomic-embed-text",
            "RAG_OLLAMA_HOST": ollama.url,
            "PYTHONPATH": str(ROOT),
        }
        | worker_env
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "worker"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    yield process
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 0, output
    assert "stopped after" in output


def wait_for_job(client: TestClient, job_id: str, timeout_s: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        job: dict[str, Any] = client.get(f"/v1/jobs/{job_id}", headers=AUTH).json()
        if job["status"] in ("done", "failed"):
            return job
        assert time.monotonic() < deadline, job
        time.sleep(0.1)


def test_an_upload_is_queued_for_the_workers_and_its_job_reported_from_the_queue(
    api: TestClient, tmp_path: Path
) -> None:
    services: Services = api.app.state.services  # type: ignore[attr-defined]
    page = tmp_path / "parking.md"
    page.write_text("# Parking\n\nVisitors park in bay 12 behind the north entrance.\n")
    accepted = upload(api, page, wait=False)
    assert accepted.status_code == 202
    job = accepted.json()
    assert job["id"].isdigit() and accepted.headers["Location"] == f"/v1/jobs/{job['id']}"
    assert (job["status"], job["file"], job["document"]) == ("queued", "parking.md", None)
    staged = list(services.settings.uploads_dir.glob(".*.part.md"))
    assert len(staged) == 1  # stored on the uploads volume, waiting for a worker
    again = api.get(f"/v1/jobs/{job['id']}", headers=AUTH).json()
    assert again["status"] == "queued"  # no worker yet; the API itself ingests nothing
    unknown = api.get("/v1/jobs/no-such-job", headers=AUTH)
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "not_found")
    assert (
        "kept in the ingest queue's database for 7 days (RAG_JOB_RETENTION_DAYS)"
        in unknown.json()["error"]["message"]
    )


def test_a_worker_ingests_queued_uploads_and_the_jobs_say_how_it_went(
    api: TestClient, worker: subprocess.Popen[str], tmp_path: Path
) -> None:
    services: Services = api.app.state.services  # type: ignore[attr-defined]
    page = tmp_path / "parking.md"
    page.write_text("# Parking\n\nVisitors park in bay 12 behind the north entrance.\n")
    job = upload(api, page, wait=False).json()
    done = wait_for_job(api, job["id"])
    assert (done["status"], done["outcome"], done["error"]) == ("done", "added", None)
    target = services.settings.uploads_dir.resolve() / "parking.md"
    assert done["document"]["source"] == str(target) and target.exists()
    assert done["created_at"] <= done["finished_at"]
    # The worker wrote the shared ledger: the API lists the document.
    listed = api.get(f"/v1/documents/{done['document']['doc_id']}", headers=AUTH)
    assert listed.status_code == 200 and listed.json()["source"] == str(target)

    # An unreadable upload: its job fails with the reason, the stored copy is removed.
    broken = upload(api, page, name="broken.pdf", content=b"%PDF-1.4 not really", wait=False).json()
    failed = wait_for_job(api, broken["id"])
    assert failed["status"] == "failed" and failed["error"]["code"] == "document_error"
    assert not (services.settings.uploads_dir / "broken.pdf").exists()

    # ?wait=true answers once a worker has ingested it.
    page.write_text("# Parking\n\nVisitors now park in bay 14.\n")
    waited = upload(api, page)
    assert waited.status_code == 201
    assert waited.json()["outcome"] == "updated"
    assert list(services.settings.uploads_dir.glob(".*.part*")) == []


def test_an_upload_waits_out_an_embedder_outage_and_is_ingested_once_it_is_back(
    api: TestClient, worker: subprocess.Popen[str], embedder_down: threading.Event, tmp_path: Path
) -> None:
    services: Services = api.app.state.services  # type: ignore[attr-defined]
    page = tmp_path / "holidays.md"
    page.write_text("# Holidays\n\nThe office closes between Christmas and New Year.\n")
    embedder_down.set()
    job = upload(api, page, wait=False).json()
    deadline = time.monotonic() + 60
    # Retried with backoff (the stored file already in place after the first attempt): still pending.
    while (
        api.get(f"/v1/jobs/{job['id']}", headers=AUTH).json()["status"] != "queued"
        or not (services.settings.uploads_dir / "holidays.md").exists()
    ):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    time.sleep(3)
    assert api.get(f"/v1/jobs/{job['id']}", headers=AUTH).json()["status"] in ("queued", "running")
    embedder_down.clear()
    done = wait_for_job(api, job["id"])
    assert (done["status"], done["outcome"]) == ("done", "added")


@pytest.mark.parametrize("worker_env", [{"RAG_JOB_MAX_ATTEMPTS": "2"}])
def test_an_upload_the_embedder_was_down_for_fails_with_why_and_keeps_its_copy_as_long_as_its_job(
    api: TestClient,
    worker: subprocess.Popen[str],
    embedder_down: threading.Event,
    tmp_path: Path,
    postgres_url: str,
) -> None:
    services: Services = api.app.state.services  # type: ignore[attr-defined]
    uploads = services.settings.uploads_dir
    page = tmp_path / "canteen.md"
    page.write_text("# Canteen\n\nThe canteen opens at eight.\n")
    embedder_down.set()
    job = upload(api, page, wait=False).json()
    with psycopg.connect(postgres_url) as conn:
        row = conn.execute("SELECT args->>'staged' FROM procrastinate_jobs WHERE id = %s", (int(job["id"]),))
        staged = Path(row.fetchone()[0])  # type: ignore[index]
    failed = wait_for_job(api, job["id"])
    assert failed["status"] == "failed" and failed["error"]["code"] == "embedder_unavailable"
    message = failed["error"]["message"]
    assert "canteen.md was not ingested" in message and "at all 2 attempts" in message
    assert "kept on the server for 7 days (RAG_JOB_RETENTION_DAYS)" in message
    # Not under its name (nothing un-ingested in the uploads folder), but not lost: the job's copy.
    assert not (uploads / "canteen.md").exists()
    assert staged.read_text() == page.read_text()
    # ?wait=true sees the same failure as a 503, the status of an embedder that is down.
    waited = upload(api, page, name="menu.md")
    assert (waited.status_code, waited.json()["error"]["code"]) == (503, "embedder_unavailable")

    # Once the job is older than the retention, the workers' cleanup (hourly; its job deferred here as
    # the periodic deferrer does) removes it and the copy.
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("UPDATE procrastinate_events SET at = at - interval '8 days'")
    with IngestQueue(queue_settings(services.settings)) as queue:
        cleanup = queue.app.configure_task(CLEANUP_TASK).defer(timestamp=int(time.time()))
    deadline = time.monotonic() + 60
    while (status := _job_status(postgres_url, cleanup)) != "succeeded":
        assert status in ("todo", "doing") and time.monotonic() < deadline, status
        time.sleep(0.1)
    assert list(uploads.glob(".*.part*")) == []
    assert api.get(f"/v1/jobs/{job['id']}", headers=AUTH).status_code == 404


def _job_status(url: str, job_id: int) -> str:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT status::text FROM procrastinate_jobs WHERE id = %s", (job_id,)).fetchone()
    return str(row[0]) if row else "gone"
