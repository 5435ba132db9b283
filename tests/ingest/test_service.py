"""Idempotent sync over real files: the real parser, the packaged embedder and the embedded Qdrant Edge."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import CountingEmbedder
from support.fakes import HashingEmbedder

from ingest.service import IngestService, Outcome, source_of
from rag.config import Settings
from rag.errors import EmbedderUnavailableError
from rag.knowledge_base import KnowledgeBase


@pytest.fixture
def kb(settings: Settings, embedder: CountingEmbedder) -> Iterator[KnowledgeBase]:
    base = KnowledgeBase(settings, embedder=embedder)
    yield base
    base.close()


@pytest.fixture
def service(kb: KnowledgeBase) -> Iterator[IngestService]:
    with IngestService(kb) as service:
        yield service


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    root = tmp_path / "docs"
    (root / "hr").mkdir(parents=True)
    (root / "hr" / "leave.md").write_text(
        "# Leave\n\n## Vacation\n\nEveryone gets 27 vacation days per year.\n"
    )
    (root / "hr" / "remote.txt").write_text("Remote work\n\nStaff may work remotely up to 3 days a week.\n")
    (root / "it.html").write_text("<h1>IT</h1><h2>VPN</h2><p>The VPN gateway is vpn.example.internal.</p>")
    (root / "notes.json").write_text("{}")  # not a document type: skipped while walking the folder
    return root


def sources(kb: KnowledgeBase, query: str, k: int = 3) -> list[str]:
    return [Path(h.chunk.source).name for h in kb.retriever().search(query, top_k=k)]


def test_first_sync_adds_and_second_embeds_nothing(
    service: IngestService, kb: KnowledgeBase, embedder: CountingEmbedder, corpus: Path
) -> None:
    first = service.sync([corpus])
    assert (first.added, first.updated, first.unchanged, first.failed, first.skipped) == (3, 0, 0, [], 1)
    embedded = embedder.documents_embedded
    assert embedded == first.chunks_embedded > 0
    assert kb.store.count() == embedded

    os.utime(corpus / "it.html")  # a new mtime alone is not a change
    second = service.sync([corpus])
    assert (second.added, second.updated, second.unchanged, second.chunks_embedded) == (0, 0, 3, 0)
    assert embedder.documents_embedded == embedded
    assert sources(kb, "how many vacation days?")[0] == "leave.md"


def test_changed_file_is_reembedded_alone_and_old_text_disappears(
    service: IngestService, kb: KnowledgeBase, embedder: CountingEmbedder, corpus: Path
) -> None:
    service.sync([corpus])
    before = embedder.documents_embedded
    (corpus / "hr" / "leave.md").write_text(
        "# Leave\n\n## Vacation\n\nEveryone gets 31 vacation days per year.\n"
    )
    report = service.sync([corpus])
    assert (report.added, report.updated, report.unchanged) == (0, 1, 2), report.failed
    assert embedder.documents_embedded - before == report.chunks_embedded == 1
    texts = [h.chunk.text for h in kb.retriever().search("vacation days", top_k=10)]
    assert any("31 vacation days" in t for t in texts)
    assert not any("27 vacation days" in t for t in texts)
    ledger_chunks = sum(r.chunks for r in service.ledger.documents())
    assert kb.store.count() == ledger_chunks


def test_sync_removes_deleted_files_only_under_the_given_paths(
    service: IngestService, kb: KnowledgeBase, corpus: Path, tmp_path: Path
) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / "keep.md").write_text("# Keep\n\nThe cafeteria opens at 11:30.\n")
    service.sync([corpus, other])
    (corpus / "hr" / "leave.md").unlink()
    report = service.sync([corpus], remove_missing=True)
    assert report.removed == 1
    assert {Path(r.source).name for r in service.ledger.documents()} == {"remote.txt", "it.html", "keep.md"}
    assert "leave.md" not in sources(kb, "vacation days", k=5)
    # Without --sync nothing is removed.
    (other / "keep.md").unlink()
    assert service.sync([other]).removed == 0


def test_deleting_a_whole_folder_with_sync(service: IngestService, kb: KnowledgeBase, corpus: Path) -> None:
    service.sync([corpus])
    for file in (corpus / "hr").iterdir():
        file.unlink()
    (corpus / "hr").rmdir()
    report = service.sync([corpus], remove_missing=True)
    assert report.removed == 2
    assert kb.store.count() == sum(r.chunks for r in service.ledger.documents())


def test_crash_between_store_write_and_ledger_converges(
    service: IngestService, kb: KnowledgeBase, corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    service.sync([corpus])
    (corpus / "it.html").write_text(
        "<h1>IT</h1><h2>VPN</h2><p>The VPN gateway moved to gw2.example.internal.</p>"
    )

    def crash(record: object, **compare_and_set: object) -> None:
        raise KeyboardInterrupt  # the process dies after the store write, before the ledger write

    monkeypatch.setattr(service.ledger, "put", crash)
    with pytest.raises(KeyboardInterrupt):
        service.sync([corpus])
    monkeypatch.undo()
    report = service.sync([corpus])
    assert report.updated == 1
    assert kb.store.count() == sum(r.chunks for r in service.ledger.documents())
    texts = [h.chunk.text for h in kb.retriever().search("VPN gateway", top_k=10)]
    assert sum("gw2.example.internal" in t for t in texts) == 1
    assert not any("vpn.example.internal" in t for t in texts)


def test_explicit_unsupported_file_fails_but_the_batch_goes_on(service: IngestService, corpus: Path) -> None:
    report = service.sync([corpus / "notes.json", corpus / "it.html", corpus / "missing.pdf"])
    assert report.added == 1
    reasons = {Path(f["path"]).name: f["error"] for f in report.failed}
    assert "Unsupported file type '.json'" in reasons["notes.json"]
    assert reasons["missing.pdf"] == "No such file or folder."


def test_data_dir_inside_the_folder_is_not_ingested(tmp_path: Path, embedder: CountingEmbedder) -> None:
    root = tmp_path / "share"
    root.mkdir()
    (root / "a.md").write_text("# A\n\nThe fire drill is on the first Tuesday of each month.\n")
    settings = Settings(
        data_dir=root / "data", embedder="sentence-transformers:all-MiniLM-L6-v2", _env_file=None
    )  # type: ignore[call-arg]
    kb = KnowledgeBase(settings, embedder=embedder)
    try:
        with IngestService(kb) as service:
            service.sync([root])
            report = service.sync([root])
        assert (report.unchanged, report.skipped, report.failed) == (1, 0, [])
    finally:
        kb.close()


def test_unreachable_embedder_stops_the_batch_and_writes_nothing(settings: Settings, corpus: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    dead = settings.model_copy(
        update={"embedder": "ollama:nomic-embed-text", "ollama_host": f"http://127.0.0.1:{port}"}
    )
    kb = KnowledgeBase(dead)
    try:
        with IngestService(kb) as service:
            with pytest.raises(EmbedderUnavailableError):
                service.sync([corpus])
            assert service.ledger.count() == 0
    finally:
        kb.close()


def test_remove_and_reindex(
    service: IngestService, kb: KnowledgeBase, embedder: CountingEmbedder, corpus: Path
) -> None:
    service.sync([corpus])
    removed = service.remove(str(corpus / "it.html"))
    assert removed.source == source_of(corpus / "it.html")
    assert kb.store.count() == sum(r.chunks for r in service.ledger.documents())
    before = embedder.documents_embedded
    report = service.reindex()
    assert report.added == 2
    assert embedder.documents_embedded - before == kb.store.count()


def test_new_chunk_settings_reingest_unchanged_files_once(
    service: IngestService, kb: KnowledgeBase, embedder: CountingEmbedder, corpus: Path
) -> None:
    service.sync([corpus])
    kb.settings = kb.settings.model_copy(update={"chunk_tokens": 200})
    report = service.sync([corpus])
    assert (report.updated, report.unchanged) == (3, 0)
    assert service.sync([corpus]).unchanged == 3
    assert kb.store.count() == sum(r.chunks for r in service.ledger.documents())


@pytest.mark.parametrize("parse_ahead", [True, False], ids=["parse-ahead-thread", "inline"])
def test_many_files_are_batched_and_a_bad_one_among_them_is_reported(
    service: IngestService,
    kb: KnowledgeBase,
    embedder: CountingEmbedder,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    parse_ahead: bool,
) -> None:
    # Both ways the service runs (the thread is used on bigger machines or with Ollama) must agree.
    monkeypatch.setattr("ingest.service.parse_ahead_pays", lambda name: parse_ahead)
    root = tmp_path / "many"
    root.mkdir()
    for i in range(12):
        (root / f"note-{i:02d}.txt").write_text(
            f"Note {i}\n\nRoom {100 + i} has {i + 2} desks and a window.\n"
        )
    (root / "broken.docx").write_bytes(b"not a zip archive")
    report = service.sync([root])
    assert (report.added, len(report.failed)) == (12, 1)
    assert report.failed[0]["path"].endswith("broken.docx")
    assert embedder.documents_embedded == report.chunks_embedded == kb.store.count() >= 12
    assert sources(kb, "How many desks are in room 107?", k=1) == ["note-07.txt"]
    assert service.sync([root]).unchanged == 12


class OptimizeCounter:
    """Wraps the knowledge base's real store and counts optimise passes."""

    def __init__(self, kb: KnowledgeBase) -> None:
        self.calls = 0
        real = kb.store.optimize

        def counted() -> None:
            self.calls += 1
            real()

        kb.store.optimize = counted  # type: ignore[method-assign]


def test_single_file_ingests_settle_the_store_every_so_many_chunks(
    service: IngestService, kb: KnowledgeBase, corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The watcher, workers and uploads never end a batch; the store must still be optimised and its
    write-ahead log flushed as they write."""
    monkeypatch.setattr("ingest.service.SETTLE_EVERY_CHUNKS", 2)
    counter = OptimizeCounter(kb)
    files = [corpus / "hr" / "leave.md", corpus / "hr" / "remote.txt", corpus / "it.html"]
    written = [service.ingest_file(path)[1] for path in files]
    assert counter.calls == sum(written) // 2 >= 1
    assert sources(kb, "vacation days")[0] == "leave.md"


def test_a_moved_file_reuses_the_vectors_of_its_text_and_a_renamed_one_is_embedded_anew(
    tmp_path: Path,
) -> None:
    """What `rag worker` does with a move the watcher saw (the old path's document is still there):
    chunks whose text, title included, is unchanged take the stored vectors instead of the embedder's."""
    embedder = HashingEmbedder()
    kb = KnowledgeBase(Settings(data_dir=tmp_path / "data", _env_file=None), embedder=embedder)  # type: ignore[call-arg]
    docs = tmp_path / "docs"
    (docs / "archive").mkdir(parents=True)
    old = docs / "leave.md"
    old.write_text(
        "# Leave\n\n## Vacation\n\nEveryone gets 27 vacation days per year.\n\n## Sick\n\nCall in.\n"
    )
    try:
        with IngestService(kb) as service:
            _, first = service.ingest_file(old)
            assert first == embedder.documents_embedded > 0

            moved = docs / "archive" / "leave.md"
            old.rename(moved)
            assert service.ingest_file(moved, moved_from=source_of(old)) == (Outcome.ADDED, 0)
            assert embedder.documents_embedded == first
            before, after = (service.ledger.by_source(source_of(p)) for p in (old, moved))
            assert before is not None and after is not None and before.doc_id != after.doc_id
            reused = kb.store.get_vectors(after.chunk_ids)
            assert [c.source for c, _ in reused] == [source_of(moved)] * first
            assert [v for _, v in reused] == [v for _, v in kb.store.get_vectors(before.chunk_ids)]

            renamed = docs / "holidays.md"  # its title is in every chunk's embedded text
            moved.rename(renamed)
            assert service.ingest_file(renamed, moved_from=source_of(moved)) == (Outcome.ADDED, first)
            unknown = docs / "elsewhere.md"  # moved from a path the ledger never knew: embedded as new
            unknown.write_text("Parking is free on Fridays.\n")
            assert service.ingest_file(unknown, moved_from=source_of(docs / "nowhere.md"))[1] == 1
    finally:
        kb.close()
