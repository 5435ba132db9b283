"""Vectors first, ledger last, through IngestService.commit on the real embedded store, with each ledger
(SQLite and a real PostgreSQL): a crashed attempt leaves nothing behind once the file is redone, and a
stale writer loses to a newer one without leaving chunks or taking the winner's."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from support.fakes import HashingEmbedder

from ingest.service import IngestService, Prepared, Work
from rag.config import Settings
from rag.errors import StaleWriteError
from rag.knowledge_base import KnowledgeBase
from rag.types import DocumentRecord


@pytest.fixture(params=["sqlite", "postgres"])
def kb(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[KnowledgeBase]:
    url = request.getfixturevalue("postgres_url") if request.param == "postgres" else None
    settings = Settings(data_dir=tmp_path / "data", database_url=url, _env_file=None)  # type: ignore[call-arg]
    base = KnowledgeBase(settings, embedder=HashingEmbedder())
    yield base
    base.close()


@pytest.fixture
def services(kb: KnowledgeBase) -> Iterator[tuple[IngestService, IngestService]]:
    """Two ingest services on one knowledge base, each with its own ledger handle: two workers."""
    with IngestService(kb) as first, IngestService(kb) as second:
        yield first, second


def version(path: Path, n: int) -> None:
    paragraphs = [
        f"Version {n}, paragraph {i}: the travel policy changed, rule {n * 100 + i}." for i in range(6)
    ]
    path.write_text("\n\n".join(paragraphs), encoding="utf-8")


def prepared(service: IngestService, path: Path) -> tuple[Prepared, list[list[float]]]:
    """What a worker holds between reading the ledger and committing: parsed, chunked, embedded."""
    work = service.check(path)
    assert isinstance(work, Work)
    ready = service.prepare(work)
    return ready, service.kb.embedder.embed_documents([c.embed_text for c in ready.chunks])


def stored(kb: KnowledgeBase, doc_id: str, *batches: Prepared) -> set[str]:
    """The chunk ids the store holds for ``doc_id`` among every chunk the test wrote. The store's own
    count of the document's chunks must agree, so nothing else of it is there (an earlier version's)."""
    candidates = [chunk.chunk_id for batch in batches for chunk in batch.chunks]
    found = {chunk.chunk_id for chunk in kb.store.get(candidates) if chunk.doc_id == doc_id}
    assert kb.store.chunk_counts().get(doc_id, 0) == len(found)
    return found


def record_of(service: IngestService, path: Path) -> DocumentRecord:
    record = service.ledger.by_source(str(path.resolve()))
    assert record is not None
    return record


def test_chunks_of_a_crashed_attempt_are_gone_after_the_redo(
    services: tuple[IngestService, IngestService], kb: KnowledgeBase, tmp_path: Path
) -> None:
    service, _ = services
    path = tmp_path / "policy.txt"
    version(path, 1)
    v1, vectors = prepared(service, path)
    service.commit(v1, vectors)
    version(path, 2)
    crashed, vectors = prepared(service, path)
    kb.store.upsert(crashed.chunks, vectors)  # the attempt died here: chunks written, ledger not
    version(path, 3)
    redo, vectors = prepared(service, path)
    service.commit(redo, vectors)

    record = record_of(service, path)
    assert set(record.chunk_ids) == {c.chunk_id for c in redo.chunks}
    assert stored(kb, record.doc_id, v1, crashed, redo) == set(record.chunk_ids)  # not v1's, not the crash's
    assert kb.store.count() == record.chunks
    assert record.generation == 2


def test_a_stale_writer_loses_to_a_newer_one_and_leaves_nothing(
    services: tuple[IngestService, IngestService], kb: KnowledgeBase, tmp_path: Path
) -> None:
    stale_worker, newer_worker = services
    path = tmp_path / "policy.txt"
    version(path, 1)
    stale_worker.ingest_file(path)
    version(path, 2)
    stale, stale_vectors = prepared(stale_worker, path)  # presumed dead, but only slow
    version(path, 3)
    newer, newer_vectors = prepared(newer_worker, path)  # its job redone elsewhere
    newer_worker.commit(newer, newer_vectors)
    with pytest.raises(StaleWriteError, match="newer result is kept"):
        stale_worker.commit(stale, stale_vectors)

    record = record_of(newer_worker, path)
    assert record.sha256 == newer.work.sha256 and record.generation == 2
    assert stored(kb, record.doc_id, stale, newer) == {c.chunk_id for c in newer.chunks}
    assert kb.store.count() == record.chunks
    # The next sync finds the file up to date: the newer result was the file as it is.
    report = stale_worker.sync([path])
    assert (report.unchanged, report.updated, report.failed) == (1, 0, [])


def test_a_stale_writer_with_the_winners_content_takes_none_of_its_chunks(
    services: tuple[IngestService, IngestService], kb: KnowledgeBase, tmp_path: Path
) -> None:
    first, second = services
    path = tmp_path / "policy.txt"
    version(path, 1)
    a, a_vectors = prepared(first, path)
    b, b_vectors = prepared(second, path)  # the same file, read by both at the same generation
    first.commit(a, a_vectors)
    with pytest.raises(StaleWriteError):
        second.commit(b, b_vectors)
    record = record_of(first, path)
    assert stored(kb, record.doc_id, a, b) == set(record.chunk_ids) == {c.chunk_id for c in a.chunks}


def test_writers_that_collide_mid_commit_leave_the_winner_marked_for_a_redo(
    services: tuple[IngestService, IngestService],
    kb: KnowledgeBase,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The worst interleaving: the stale writer passed its look at the generation, then the newer writer
    committed whole, then the stale one deleted the document's other chunks (the winner's) and lost at
    the ledger. The winner's record must not go on claiming deleted chunks: it is marked so the next
    sync redoes the file, after which store and ledger agree again."""
    stale_worker, newer_worker = services
    path = tmp_path / "policy.txt"
    version(path, 1)
    stale_worker.ingest_file(path)
    version(path, 2)
    stale, stale_vectors = prepared(stale_worker, path)
    version(path, 3)
    newer, newer_vectors = prepared(newer_worker, path)
    delete_stale = kb.store.delete_stale_chunks
    interleaved: list[str] = []

    def newer_commits_first(doc_id: str, keep: Sequence[str]) -> None:
        if not interleaved:
            interleaved.append(doc_id)
            newer_worker.commit(newer, newer_vectors)
        delete_stale(doc_id, keep)

    monkeypatch.setattr(kb.store, "delete_stale_chunks", newer_commits_first)
    with pytest.raises(StaleWriteError):
        stale_worker.commit(stale, stale_vectors)
    monkeypatch.undo()

    record = record_of(newer_worker, path)
    assert interleaved and record.sha256 == newer.work.sha256
    assert stored(kb, record.doc_id, stale, newer) == set()  # the collision took them
    assert record.pipeline == ""  # so the next sync does not trust the record
    report = newer_worker.sync([path])
    assert (report.updated, report.failed) == (1, [])
    redone = record_of(newer_worker, path)
    assert stored(kb, redone.doc_id, newer) == set(redone.chunk_ids) == {c.chunk_id for c in newer.chunks}
    assert kb.store.count() == redone.chunks
