"""Upload jobs: stored files ingested in the background by one worker, through the real parse sandbox,
ledger and embedded store; the hashing embedder stands in for the model."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.fakes import HashingEmbedder

from ingest.jobs import JobStatus, UploadJobs
from ingest.service import IngestService, Outcome
from rag.config import Settings
from rag.errors import ServiceUnavailableError, TooBusyError
from rag.knowledge_base import KnowledgeBase

LEAVE = "# Leave\n\nEveryone gets 27 vacation days per year.\n"


@pytest.fixture(name="service")
def service_fixture(tmp_path: Path) -> Iterator[IngestService]:
    settings = Settings(data_dir=tmp_path / "data", file_timeout_s=5, _env_file=None)  # type: ignore[call-arg]
    kb = KnowledgeBase(settings, embedder=HashingEmbedder())
    with IngestService(kb) as service:
        yield service
    kb.close()


@pytest.fixture(name="uploads")
def uploads_fixture(service: IngestService) -> Path:
    uploads = service.kb.settings.uploads_dir
    uploads.mkdir(parents=True)
    return uploads


def stage(uploads: Path, key: str, content: bytes | str, suffix: str = ".md") -> Path:
    """An upload as the route stores it: hidden, with the type's suffix."""
    staged = uploads / f".{key}.part{suffix}"
    staged.write_bytes(content.encode() if isinstance(content, str) else content)
    return staged


def test_a_job_ingests_the_stored_file_under_its_name(service: IngestService, uploads: Path) -> None:
    outcomes: list[str] = []
    jobs = UploadJobs(service, threading.Lock(), on_outcome=outcomes.append)
    job = jobs.submit(stage(uploads, "leave", LEAVE), uploads / "leave.md")
    assert jobs.get(job.id) is job and job.file_name == "leave.md"
    assert job.wait(30)
    jobs.close()

    assert (job.status, job.outcome, job.error) == (JobStatus.DONE, Outcome.ADDED, None)
    assert job.document is not None and job.document.source == str((uploads / "leave.md").resolve())
    assert job.document.title == "leave"
    assert job.created_at <= (job.finished_at or "")
    assert sorted(p.name for p in uploads.iterdir()) == ["leave.md"]  # the staged file became it
    assert outcomes == ["added"]
    hits = service.kb.retriever().search("vacation days", top_k=1)
    assert hits[0].chunk.source == job.document.source


def test_a_file_that_cannot_be_read_fails_its_job_and_keeps_the_earlier_upload(
    service: IngestService, uploads: Path
) -> None:
    jobs = UploadJobs(service, threading.Lock())
    good = jobs.submit(stage(uploads, "a", LEAVE), uploads / "leave.md")
    bad = jobs.submit(stage(uploads, "b", b""), uploads / "leave.md")
    assert good.wait(30) and bad.wait(30)
    jobs.close()

    assert (good.status, bad.status) == (JobStatus.DONE, JobStatus.FAILED)
    assert bad.error is not None and bad.error.message == "The file is empty (0 bytes)."
    assert (uploads / "leave.md").read_text() == LEAVE
    assert [p.name for p in uploads.iterdir()] == ["leave.md"]  # no staged file left behind
    assert service.ledger.failures() == []  # the bad bytes never became the document's content


def test_a_full_queue_is_too_busy_and_close_fails_what_still_waits(
    service: IngestService, uploads: Path
) -> None:
    lock = threading.Lock()
    jobs = UploadJobs(service, lock, max_queued=1)
    with lock:  # the worker parses the first file, then waits for the ingest lock
        first = jobs.submit(stage(uploads, "a", LEAVE), uploads / "a.md")
        while first.status != JobStatus.RUNNING:
            threading.Event().wait(0.01)
        waiting = jobs.submit(stage(uploads, "b", LEAVE), uploads / "b.md")
        with pytest.raises(TooBusyError, match="1 uploads are waiting to be ingested: try again"):
            jobs.submit(stage(uploads, "c", LEAVE), uploads / "c.md")
        jobs.close(timeout_s=0.1)
        with pytest.raises(ServiceUnavailableError, match="stopping"):
            jobs.submit(stage(uploads, "d", LEAVE), uploads / "d.md")

    assert first.wait(30)
    assert first.status.value == "done"  # the running job was let finish
    assert waiting.status == JobStatus.FAILED and waiting.error is not None
    assert waiting.error.message == "The server stopped before this upload was ingested: upload it again."
    assert not (uploads / ".b.part.md").exists()


def test_only_the_last_jobs_are_kept(service: IngestService, uploads: Path) -> None:
    jobs = UploadJobs(service, threading.Lock(), keep=2)
    done = [jobs.submit(stage(uploads, f"f{i}", b"", ".txt"), uploads / f"f{i}.txt") for i in range(3)]
    for job in done:
        assert job.wait(30)
    fourth = jobs.submit(stage(uploads, "f3", b"", ".txt"), uploads / "f3.txt")
    assert fourth.wait(30)
    jobs.close()
    assert [jobs.get(job.id) for job in done[:2]] == [None, None]
    assert jobs.get(done[2].id) is done[2] and jobs.get(fourth.id) is fourth


def test_of_two_uploads_of_one_name_parsed_side_by_side_the_later_is_kept(
    service: IngestService, uploads: Path
) -> None:
    lock = threading.Lock()
    jobs = UploadJobs(service, lock, workers=2)
    with lock:  # both parse, then race for the ingest lock in either order
        first = jobs.submit(
            stage(uploads, "a", "# Leave\n\nEveryone gets 25 vacation days.\n"), uploads / "leave.md"
        )
        later = jobs.submit(stage(uploads, "b", LEAVE), uploads / "leave.md")
        while JobStatus.QUEUED in (first.status, later.status):
            threading.Event().wait(0.01)
    assert first.wait(30) and later.wait(30)
    jobs.close()

    assert later.status == JobStatus.DONE
    assert (uploads / "leave.md").read_text() == LEAVE
    if first.status == JobStatus.FAILED:  # it lost the race to the lock: it must not overwrite
        assert first.error is not None and first.error.message == (
            "A newer upload of leave.md was ingested while this one was being read; the newer one was kept."
        )
    hits = service.kb.retriever().search("vacation days", top_k=1)
    assert "27 vacation days" in hits[0].chunk.text
