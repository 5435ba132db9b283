"""The watched folder end to end: real files on disk, a real FolderWatcher (watchdog's inotify observer, and
once the polling one), the packaged MiniLM embedder and the embedded Qdrant Edge store in tmp dirs.

Timing is only ever waited for (`wait_until`, `FolderWatcher.wait_idle`), never assumed: a sleep in here
paces the writes of a simulated editor or copier, it is not how a test decides that something happened.
"""

from __future__ import annotations

import hashlib
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import pytest
from conftest import QUICKSTART_EMBEDDER, CountingEmbedder
from watchdog.observers.polling import PollingObserver

from ingest.ledger import Ledger, open_ledger
from ingest.parse import parse_file
from ingest.service import IngestService, source_of
from ingest.watcher import FolderWatcher
from rag.config import Settings
from rag.knowledge_base import KnowledgeBase
from rag.types import Chunk, DocumentRecord, Hit

DEBOUNCE_S = 0.3
WAIT_S = 30.0  # generous upper bound for anything the watcher should do within about a second

# One unique, searchable fact per document: (thing, who looks after it, where its logbook is).
THINGS = [
    ("aquarium", "Agnes Okafor", "basement archive"),
    ("bicycle shed", "Bruno Lindqvist", "porter's lodge"),
    ("canoe", "Chiara Benedetti", "boathouse"),
    ("dishwasher", "Dmitri Volkov", "canteen office"),
    ("espresso machine", "Elif Yilmaz", "third-floor kitchen"),
    ("fire extinguisher", "Farid Haddad", "security desk"),
    ("greenhouse", "Greta Halvorsen", "potting room"),
    ("harp", "Hiroshi Tanaka", "music cupboard"),
    ("ice machine", "Ingrid Novak", "loading bay"),
    ("jukebox", "Jamal Carter", "staff lounge"),
    ("pottery kiln", "Katarzyna Wrobel", "ceramics studio"),
    ("lighthouse model", "Lars Eriksen", "maritime gallery"),
    ("microscope", "Mei Chen", "biology lab"),
    ("notary stamp", "Nadia Rossi", "legal safe"),
    ("apple orchard", "Oskar Brandt", "garden hut"),
    ("grand piano", "Priya Raman", "concert hall wings"),
    ("quilt collection", "Quentin Moreau", "textile store"),
    ("rooftop beehive", "Rosa Delgado", "roof access room"),
    ("sauna", "Sami Korhonen", "spa reception"),
    ("telescope", "Tomasz Zielinski", "observatory dome"),
    ("umbrella stand", "Ursula Becker", "main lobby"),
    ("violin", "Valentina Greco", "rehearsal room"),
    ("weather station", "Wei Zhang", "meteorology hut"),
    ("xylophone", "Ximena Torres", "percussion closet"),
]


def fact(i: int) -> str:
    thing, person, place = THINGS[i]
    return f"The {thing} is looked after by {person}, who keeps its logbook in the {place}."


def question(i: int) -> str:
    return f"Who looks after the {THINGS[i][0]}?"


def document(i: int, ext: str) -> str:
    title = f"Facilities note {i}"
    if ext == "md":
        return f"# {title}\n\n{fact(i)}\n"
    if ext == "html":
        return f"<html><body><h1>{title}</h1><p>{fact(i)}</p></body></html>\n"
    return f"{title}\n\n{fact(i)}\n"


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def wait_until(predicate: Callable[[], bool], timeout: float = WAIT_S, what: str = "condition") -> float:
    """Poll ``predicate`` until it holds; returns how long that took, fails the test after ``timeout``."""
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.02)
    return time.monotonic() - start


@dataclass
class Rig:
    """One knowledge base, its ledger and ingest service, and the watchers started on ``root``."""

    root: Path
    kb: KnowledgeBase
    ledger: Ledger
    service: IngestService
    embedder: CountingEmbedder
    # Shared with every watcher: the test reads the store only while no file is being ingested.
    lock: threading.Lock = field(default_factory=threading.Lock)
    events: list[tuple[str, str]] = field(default_factory=list)
    watchers: list[FolderWatcher] = field(default_factory=list)

    def watch(
        self, debounce_s: float = DEBOUNCE_S, poll: bool = False, poll_interval_s: float = 0.2
    ) -> FolderWatcher:
        watcher = FolderWatcher(
            self.root,
            self.service,
            lock=self.lock,
            debounce_s=debounce_s,
            poll=poll,
            poll_interval_s=poll_interval_s,
            on_event=lambda what, detail: self.events.append((what, detail)),
        )
        self.watchers.append(watcher)
        watcher.start()
        self.settle(watcher)  # the reconciliation every start begins with
        return watcher

    def settle(self, watcher: FolderWatcher) -> None:
        assert watcher.wait_idle(WAIT_S), f"watcher still busy after {WAIT_S} s: {watcher.status}"

    def write(self, name: str, text: str) -> Path:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    def record(self, path: Path) -> DocumentRecord | None:
        return self.ledger.by_source(source_of(path))

    def names(self) -> list[str]:
        """The ledger's documents as paths relative to the watched folder (sorted, duplicates kept)."""
        return sorted(Path(r.source).relative_to(self.root).as_posix() for r in self.ledger.documents())

    def failures(self) -> dict[str, str]:
        return {Path(f.source).relative_to(self.root).as_posix(): f.error for f in self.ledger.failures()}

    def chunk_counts(self) -> dict[str, int]:
        with self.lock:
            return self.kb.store.chunk_counts()

    def chunks(self, chunk_ids: Sequence[str]) -> list[Chunk]:
        with self.lock:
            return self.kb.store.get(chunk_ids)

    def search(self, query: str, k: int = 5) -> list[Hit]:
        with self.lock:
            return self.kb.retriever().search(query, top_k=k)

    def assert_store_matches_ledger(self) -> None:
        """Every ledger document has exactly its chunks in the store, and the store holds nothing else."""
        records = self.ledger.documents()
        assert self.chunk_counts() == {r.doc_id: r.chunks for r in records}
        with self.lock:
            total = self.kb.store.count()
        assert total == sum(r.chunks for r in records)
        for r in records:
            stored = self.chunks(r.chunk_ids)
            assert [c.chunk_id for c in stored] == r.chunk_ids
            assert {c.source for c in stored} == {r.source}


@pytest.fixture
def rig(
    tmp_path: Path, settings: Settings, embedder: CountingEmbedder, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Rig]:
    root = tmp_path / "docs"
    root.mkdir()
    # kb.close() would also close the embedder: keep the session's MiniLM loaded for the next test.
    monkeypatch.setattr(embedder, "close", lambda: None)
    kb = KnowledgeBase(settings, embedder=embedder)
    service = IngestService(kb)
    _ = kb.store  # open (and create) the store before any watcher thread touches it
    rig = Rig(root=root.resolve(), kb=kb, ledger=service.ledger, service=service, embedder=embedder)
    try:
        yield rig
    finally:
        for watcher in rig.watchers:
            watcher.stop()
        service.close()
        kb.close()


# -- 1. many new files -------------------------------------------------------------------------------


def test_twenty_dropped_files_are_all_searchable_each_exactly_once(rig: Rig, tmp_path: Path) -> None:
    # Warm up outside the watched folder: the first file of each type in a process pays for importing
    # its parser (several seconds), which is not what the latency below is about.
    extensions = ["md", "txt", "html"]
    for ext in extensions:
        warm = tmp_path / f"warm-up.{ext}"
        warm.write_text(document(23, ext), encoding="utf-8")
        parse_file(warm)
    rig.search("warm up the query path")
    watcher = rig.watch()
    names = [f"drop/note{i:02d}.{extensions[i % 3]}" for i in range(20)]
    for i, name in enumerate(names):
        rig.write(name, document(i, extensions[i % 3]))
    last_arrived = time.monotonic()

    wait_until(lambda: rig.ledger.count() == 20, what="20 documents in the ledger")
    # The store is written before the ledger, so a document in the ledger is searchable.
    latency = time.monotonic() - last_arrived
    print(f"\ndrop-20: last file written -> all 20 searchable in {latency:.2f} s (debounce {DEBOUNCE_S} s)")
    assert latency < 60
    rig.settle(watcher)

    assert rig.names() == sorted(names)
    records = rig.ledger.documents()
    assert len({r.doc_id for r in records}) == 20
    assert len(rig.chunk_counts()) == 20
    rig.assert_store_matches_ledger()
    texts = [c.text for r in records for c in rig.chunks(r.chunk_ids)]
    assert len(texts) == len(set(texts)) == sum(r.chunks for r in records)
    assert watcher.status.counts == {"added": 20}
    assert rig.embedder.documents_embedded == sum(r.chunks for r in records)  # each file embedded once
    assert watcher.status.last_error is None
    for i, name in enumerate(names):
        hits = rig.search(question(i), k=3)
        assert hits[0].chunk.source == source_of(rig.root / name), (name, [h.chunk.source for h in hits])
        assert fact(i) in hits[0].chunk.text


# -- 2. edits ----------------------------------------------------------------------------------------


def test_overwrite_replaces_old_content_and_a_burst_of_saves_is_ingested_once(rig: Rig) -> None:
    watcher = rig.watch()
    path = rig.write("policy.md", "# Parking\n\nThe parking garage closes at 22:00 on weekdays.\n")
    wait_until(lambda: rig.record(path) is not None, what="policy.md ingested")
    rig.settle(watcher)
    first = rig.record(path)
    assert first is not None

    new_text = "# Parking\n\nThe parking garage now closes at 19:30 every evening, weekends included.\n"
    path.write_text(new_text, encoding="utf-8")
    wait_until(lambda: getattr(rig.record(path), "sha256", None) == sha256_text(new_text), what="update")
    rig.settle(watcher)
    second = rig.record(path)
    assert second is not None
    assert second.doc_id == first.doc_id
    assert rig.chunks(first.chunk_ids) == []  # the old chunks are gone from the store
    texts = [h.chunk.text for h in rig.search("When does the parking garage close?", k=10)]
    assert any("19:30" in t for t in texts)
    assert not any("22:00" in t for t in texts)
    assert watcher.status.counts == {"added": 1, "updated": 1}
    rig.assert_store_matches_ledger()

    # An editor saving ten times in a row, about 50 ms apart, different content each time.
    embedded_before = rig.embedder.documents_embedded
    versions = [
        f"# Shuttle\n\nRevision {n}: the airport shuttle leaves gate {n} at {7 + n}:15 sharp.\n"
        for n in range(10)
    ]
    for text in versions:
        path.write_text(text, encoding="utf-8")
        time.sleep(0.05)
    wait_until(lambda: getattr(rig.record(path), "sha256", None) == sha256_text(versions[-1]), what="final")
    rig.settle(watcher)

    ingests = watcher.status.counts["updated"] - 1
    print(f"\n10 saves ~50 ms apart -> ingested {ingests} time(s)")
    assert ingests in (1, 2)
    final = rig.record(path)
    assert final is not None and final.chunks == 1
    assert rig.embedder.documents_embedded - embedded_before == ingests * final.chunks
    stored = rig.chunks(final.chunk_ids)
    assert len(stored) == 1
    assert "Revision 9: the airport shuttle leaves gate 9 at 16:15 sharp." in stored[0].text
    texts = [h.chunk.text for h in rig.search("When does the airport shuttle leave?", k=10)]
    assert [t for t in texts if "Revision" in t] == [stored[0].text]
    assert rig.ledger.count() == 1
    rig.assert_store_matches_ledger()


# -- 3. renames --------------------------------------------------------------------------------------


def test_renaming_a_file_or_a_folder_relabels_chunks_without_reembedding(rig: Rig) -> None:
    watcher = rig.watch()
    rig.write("team/roster.md", document(0, "md"))
    rig.write("projects/alpha.md", document(1, "md"))
    rig.write("projects/beta.txt", document(2, "txt"))
    rig.write("projects/deep/gamma.html", document(3, "html"))
    wait_until(lambda: rig.ledger.count() == 4, what="4 documents")
    rig.settle(watcher)
    before = {name: rig.record(rig.root / name) for name in rig.names()}
    embedded = rig.embedder.documents_embedded

    os.rename(rig.root / "team/roster.md", rig.root / "team/roster-2024.md")
    wait_until(lambda: rig.record(rig.root / "team/roster-2024.md") is not None, what="the rename")
    rig.settle(watcher)
    moved = rig.record(rig.root / "team/roster-2024.md")
    old = before["team/roster.md"]
    assert moved is not None and old is not None
    assert rig.record(rig.root / "team/roster.md") is None
    assert (moved.doc_id, moved.chunk_ids, moved.sha256) == (old.doc_id, old.chunk_ids, old.sha256)
    assert moved.title == "roster 2024"
    assert [c.source for c in rig.chunks(moved.chunk_ids)] == [moved.source] * moved.chunks
    hits = rig.search(question(0), k=5)
    assert hits[0].chunk.source == moved.source
    assert old.source not in {h.chunk.source for h in hits}
    assert rig.embedder.documents_embedded == embedded
    assert watcher.status.counts == {"added": 4, "moved": 1}

    os.rename(rig.root / "projects", rig.root / "archive")
    wanted = ["archive/alpha.md", "archive/beta.txt", "archive/deep/gamma.html", "team/roster-2024.md"]
    wait_until(lambda: rig.names() == wanted, what="the folder rename")
    rig.settle(watcher)
    assert rig.names() == wanted
    for name in ("alpha.md", "beta.txt", "deep/gamma.html"):
        was, now = before[f"projects/{name}"], rig.record(rig.root / "archive" / name)
        assert was is not None and now is not None
        assert (now.doc_id, now.chunk_ids, now.sha256) == (was.doc_id, was.chunk_ids, was.sha256)
    assert rig.embedder.documents_embedded == embedded  # nothing re-embedded
    assert watcher.status.counts == {"added": 4, "moved": 4}
    hits = rig.search(question(3), k=3)
    assert hits[0].chunk.source == source_of(rig.root / "archive/deep/gamma.html")
    rig.assert_store_matches_ledger()


def test_a_new_file_at_a_renamed_files_old_path_is_a_separate_document(rig: Rig) -> None:
    watcher = rig.watch()
    rig.write("report.md", document(4, "md"))
    wait_until(lambda: rig.ledger.count() == 1, what="report.md")
    rig.settle(watcher)
    os.rename(rig.root / "report.md", rig.root / "report-old.md")
    wait_until(lambda: rig.names() == ["report-old.md"], what="the rename")
    rig.settle(watcher)
    rig.write("report.md", document(5, "md"))  # the user starts a fresh report under the old name
    wait_until(lambda: rig.record(rig.root / "report.md") is not None, what="the new report.md")
    rig.settle(watcher)

    assert rig.names() == ["report-old.md", "report.md"]
    rig.assert_store_matches_ledger()


def test_renaming_a_file_and_back_within_the_debounce_window_keeps_it_without_reembedding(rig: Rig) -> None:
    watcher = rig.watch()
    path = rig.write("budget.md", document(6, "md"))
    wait_until(lambda: rig.ledger.count() == 1, what="budget.md")
    rig.settle(watcher)
    embedded = rig.embedder.documents_embedded
    os.rename(path, rig.root / "budget-draft.md")
    os.rename(rig.root / "budget-draft.md", path)  # e.g. an undo in the file manager
    sentinel = rig.write("sentinel.md", document(7, "md"))  # its events come after the renames'
    wait_until(lambda: rig.record(sentinel) is not None, what="sentinel.md")
    rig.settle(watcher)
    sentinel_record = rig.record(sentinel)
    assert sentinel_record is not None

    assert rig.names() == ["budget.md", "sentinel.md"]
    assert rig.embedder.documents_embedded - embedded == sentinel_record.chunks
    rig.assert_store_matches_ledger()


# -- 4. deletes --------------------------------------------------------------------------------------


def test_deleting_a_file_or_a_folder_removes_their_chunks(rig: Rig) -> None:
    watcher = rig.watch()
    rig.write("keep.md", document(0, "md"))
    rig.write("gone.txt", document(1, "txt"))
    old = ["old/a.md", "old/b.html", "old/sub/c.txt"]
    for i, name in enumerate(old, start=2):
        rig.write(name, document(i, name.rsplit(".", 1)[1]))
    wait_until(lambda: rig.ledger.count() == 5, what="5 documents")
    rig.settle(watcher)
    records = {name: rig.record(rig.root / name) for name in rig.names()}

    (rig.root / "gone.txt").unlink()
    wait_until(lambda: rig.record(rig.root / "gone.txt") is None, what="gone.txt removed")
    rig.settle(watcher)
    gone = records["gone.txt"]
    assert gone is not None
    assert rig.chunks(gone.chunk_ids) == []
    assert gone.doc_id not in rig.chunk_counts()
    assert gone.source not in {h.chunk.source for h in rig.search(question(1), k=5)}

    shutil.rmtree(rig.root / "old")
    wait_until(lambda: rig.names() == ["keep.md"], what="the old/ folder's documents removed")
    rig.settle(watcher)
    keep = records["keep.md"]
    assert keep is not None
    assert rig.chunk_counts() == {keep.doc_id: keep.chunks}
    for name in old:
        record = records[name]
        assert record is not None
        assert rig.chunks(record.chunk_ids) == []
    assert watcher.status.counts == {"added": 5, "removed": 4}
    rig.assert_store_matches_ledger()


# -- 5. changes while nobody watched ---------------------------------------------------------------


def test_a_new_watcher_reconciles_what_changed_while_none_was_running(rig: Rig) -> None:
    first = rig.watch()
    changed = rig.write("changed.md", document(0, "md"))
    rig.write("same.txt", document(1, "txt"))
    deleted = rig.write("deleted.html", document(2, "html"))
    wait_until(lambda: rig.ledger.count() == 3, what="3 documents")
    rig.settle(first)
    first.stop()
    assert first.status.running is False
    gone = rig.record(deleted)
    assert gone is not None
    embedded = rig.embedder.documents_embedded

    changed.write_text(document(3, "md") + "\nA second paragraph makes the new version longer.\n")
    added = rig.write("added.md", document(4, "md"))
    deleted.unlink()
    second = rig.watch()  # waits for the start-up reconciliation

    assert rig.names() == ["added.md", "changed.md", "same.txt"]
    assert second.status.counts == {"added": 1, "updated": 1, "removed": 1}
    assert rig.events[-1] == ("reconciled", f"{rig.root} (1 added, 1 updated, 1 removed, 0 failed)")
    now_changed, now_added = rig.record(changed), rig.record(added)
    assert now_changed is not None and now_added is not None
    assert now_changed.sha256 == sha256_text(changed.read_text())
    assert rig.embedder.documents_embedded - embedded == now_changed.chunks + now_added.chunks
    assert rig.chunks(gone.chunk_ids) == []
    assert rig.search(question(3), k=1)[0].chunk.source == now_changed.source
    assert rig.search(question(4), k=1)[0].chunk.source == now_added.source
    assert not any(fact(0) in h.chunk.text for h in rig.search(question(0), k=10))
    rig.assert_store_matches_ledger()


# -- 6. files still being written -------------------------------------------------------------------


def test_a_file_being_copied_slowly_is_ingested_once_complete(rig: Rig) -> None:
    watcher = rig.watch(debounce_s=1.0)
    parts = [
        f"Part {n} of the handover: the {THINGS[n][0]} key is with {THINGS[n][1]}.\n\n" for n in range(7)
    ]
    path = rig.root / "handover.txt"
    with path.open("w", encoding="utf-8") as handle:  # a copier writing a part every 0.3 s for 2 s
        for n, part in enumerate(parts):
            if n:
                time.sleep(0.3)
            handle.write(part)
            handle.flush()
        assert rig.record(path) is None  # nothing was ingested while the file grew
        assert watcher.status.counts == {}
    wait_until(lambda: rig.record(path) is not None, what="handover.txt ingested")
    rig.settle(watcher)

    record = rig.record(path)
    assert record is not None
    assert record.sha256 == sha256_text("".join(parts))
    text = "\n".join(c.text for c in rig.chunks(record.chunk_ids))
    assert [p.strip() in text for p in parts] == [True] * 7
    assert watcher.status.counts == {"added": 1}
    assert rig.embedder.documents_embedded == record.chunks
    assert rig.failures() == {}


# -- 7. broken files ---------------------------------------------------------------------------------

NOT_DOCX = (
    "This is not a valid Word (.docx) file: it is not an Office Open XML package. Was it renamed from "
    "another format? Save it again from its application."
)
EMPTY = "The file is empty (0 bytes)."


def test_broken_files_are_reported_and_the_watcher_keeps_going(rig: Rig) -> None:
    import docx

    watcher = rig.watch()
    rig.write("good1.md", document(0, "md"))
    (rig.root / "broken.docx").write_bytes(os.urandom(4096))
    (rig.root / "empty.md").write_bytes(b"")
    rig.write("good2.txt", document(1, "txt"))
    wait_until(
        lambda: rig.ledger.count() == 2 and len(rig.ledger.failures()) == 2, what="2 ingested, 2 failed"
    )
    rig.settle(watcher)

    assert rig.names() == ["good1.md", "good2.txt"]
    assert rig.failures() == {"broken.docx": NOT_DOCX, "empty.md": EMPTY}
    assert watcher.status.counts == {"added": 2, "failed": 2}
    assert watcher.status.last_error in {
        f"{rig.root / 'broken.docx'}: {NOT_DOCX}",
        f"{rig.root / 'empty.md'}: {EMPTY}",
    }
    failed_events = sorted(detail for what, detail in rig.events if what == "failed")
    assert failed_events == [f"{rig.root / 'broken.docx'}: {NOT_DOCX}", f"{rig.root / 'empty.md'}: {EMPTY}"]

    # Still alive: a good file dropped afterwards is ingested.
    assert watcher.status.running is True
    rig.write("good3.html", document(2, "html"))
    wait_until(lambda: rig.ledger.count() == 3, what="good3.html after the failures")
    rig.settle(watcher)

    # Fixing the broken files gets them ingested and off the failures list.
    word = docx.Document()
    word.add_heading("Facilities note 3", level=1)
    word.add_paragraph(fact(3))
    word.save(str(rig.root / "broken.docx"))
    (rig.root / "empty.md").write_text(document(4, "md"), encoding="utf-8")
    wait_until(lambda: rig.ledger.count() == 5 and rig.failures() == {}, what="the fixed files ingested")
    rig.settle(watcher)

    assert rig.names() == ["broken.docx", "empty.md", "good1.md", "good2.txt", "good3.html"]
    assert watcher.status.counts == {"added": 5, "failed": 2}
    assert rig.search(question(3), k=1)[0].chunk.source == source_of(rig.root / "broken.docx")
    assert rig.search(question(4), k=1)[0].chunk.source == source_of(rig.root / "empty.md")
    rig.assert_store_matches_ledger()


# -- 8. editor noise ---------------------------------------------------------------------------------


def test_editor_temp_and_lock_files_are_ignored(rig: Rig) -> None:
    watcher = rig.watch()
    noise = {
        "~$report.docx": b"\x00\x01owner-lock",
        ".~lock.x.odt#": b",alice,host,01.01.2025 10:00,file:///home/alice/.config/libreoffice/4;",
        "x.swp": b"b0VIM 9.0\x00\x00binary swap",
        ".DS_Store": b"\x00\x00\x00\x01Bud1\x00\x00binary",
        "download.crdownload": b"%PDF-1.7 half a download",
        "notes.md~": b"# backup\n\nan editor backup copy\n",
        "sub/~$budget.xlsx": b"\x00lock",
        ".git/README.md": b"# git internals\n\nnot a document\n",
        ".git/logs/notes.txt": b"0000000 1111111 commit: initial\n",
    }
    for name, data in noise.items():
        path = rig.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    sentinel = rig.write("sub/real.md", document(0, "md"))  # events arrive in order: noise, then this
    wait_until(lambda: rig.record(sentinel) is not None, what="sub/real.md")
    rig.settle(watcher)

    assert rig.names() == ["sub/real.md"]
    assert rig.failures() == {}
    assert watcher.status.counts == {"added": 1}
    assert watcher.status.last_error is None

    watcher.stop()  # and a start-up reconciliation walks past them too
    again = rig.watch()
    assert again.status.counts == {}
    assert rig.names() == ["sub/real.md"]
    assert rig.failures() == {}


# -- 9. polling --------------------------------------------------------------------------------------


def test_polling_observer_picks_up_a_new_file_and_a_deletion(rig: Rig) -> None:
    watcher = rig.watch(poll=True, poll_interval_s=0.2)
    assert isinstance(watcher._observer, PollingObserver)
    path = rig.write("share/minutes.md", document(0, "md"))
    wait_until(lambda: rig.record(path) is not None, what="minutes.md seen by polling")
    rig.settle(watcher)
    record = rig.record(path)
    assert record is not None
    assert rig.search(question(0), k=1)[0].chunk.source == record.source

    path.unlink()
    wait_until(lambda: rig.record(path) is None, what="the deletion seen by polling")
    rig.settle(watcher)
    assert rig.chunks(record.chunk_ids) == []
    assert rig.chunk_counts() == {}
    assert watcher.status.counts == {"added": 1, "removed": 1}


# -- 10. kill -9 mid-ingest --------------------------------------------------------------------------


class _Output:
    """Collects a subprocess's stdout and stderr lines as they come."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.lines: queue.SimpleQueue[str] = queue.SimpleQueue()
        self.seen: list[str] = []
        self._streams = [s for s in (proc.stdout, proc.stderr) if s is not None]
        self._threads = [threading.Thread(target=self._pump, args=(s,), daemon=True) for s in self._streams]
        for thread in self._threads:
            thread.start()

    def _pump(self, stream: IO[str]) -> None:
        for line in stream:
            self.lines.put(line.rstrip("\n"))

    def text(self) -> str:
        while not self.lines.empty():
            self.seen.append(self.lines.get())
        return "\n".join(self.seen)

    def close(self) -> None:
        """After the process has ended: read to the end, then close the pipes."""
        for thread in self._threads:
            thread.join(timeout=10)
        for stream in self._streams:
            stream.close()


_HANDBOOK_WORDS = (
    "inspection valve pressure gauge quarterly schedule boiler room ventilation duct filter replacement "
    "contractor invoice approval safety checklist emergency lighting battery test elevator certificate "
    "roof drainage gutter clearance winter gritting car park barrier"
)


def _large_document() -> str:
    """About 70 chunks: long enough that MiniLM spends several seconds embedding it."""
    words = _HANDBOOK_WORDS.split()
    paragraphs = []
    for n in range(240):
        body = " ".join(words[(n * 7 + k) % len(words)] for k in range(45))
        paragraphs.append(f"Paragraph {n} of the maintenance handbook. {body}.")
    paragraphs.insert(120, "The emergency generator's fuel card is kept by Zofia Nowak in the night safe.")
    return "Maintenance handbook\n\n" + "\n\n".join(paragraphs) + "\n"


def test_kill_9_while_embedding_a_large_file_then_restart_converges(
    tmp_path: Path, embedder: CountingEmbedder
) -> None:
    root = tmp_path / "share"
    root.mkdir()
    root = root.resolve()
    data = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env.update(
        RAG_DATA_DIR=str(data),
        RAG_EMBEDDER=QUICKSTART_EMBEDDER,
        RAG_WATCH_DEBOUNCE_S="0.3",
        HF_HUB_OFFLINE="1",
        PYTHONUNBUFFERED="1",
    )
    command = [sys.executable, "-m", "api.cli", "watch", str(root)]
    small = {"small1.md": document(0, "md"), "small2.txt": document(1, "txt")}
    large = root / "handbook.txt"

    proc = subprocess.Popen(
        command, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    output = _Output(proc)
    try:
        wait_until(
            lambda: "watching " in output.text() or proc.poll() is not None, timeout=120, what="`watching`"
        )
        assert proc.poll() is None, output.text()
        for name, text in small.items():
            (root / name).write_text(text, encoding="utf-8")
        large.write_text(_large_document(), encoding="utf-8")
        added = [f"added  {root / name}" for name in small]
        wait_until(
            lambda: all(line in output.text() for line in added) or proc.poll() is not None,
            what="the small files reported added",
        )
        assert proc.poll() is None, output.text()
        time.sleep(2.0)  # let it get well into embedding the large file
        assert proc.poll() is None and f"added  {large}" not in output.text(), output.text()
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        output.close()

    settings = Settings(data_dir=data, embedder=QUICKSTART_EMBEDDER, _env_file=None)  # type: ignore[call-arg]
    ledger = open_ledger(settings)
    try:  # the kill landed while the large file was in progress
        assert sorted(Path(r.source).name for r in ledger.documents()) == ["small1.md", "small2.txt"]
    finally:
        ledger.close()

    again = subprocess.run(
        [*command, "--once"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert again.returncode == 0, again.stderr
    assert "in use by" not in again.stderr and "error:" not in again.stderr, again.stderr
    assert f"reconciled  {root} (1 added, 0 updated, 0 removed, 0 failed)" in again.stdout, again.stdout

    kb = KnowledgeBase(settings, embedder=embedder)
    ledger = open_ledger(settings)
    try:
        records = ledger.documents()
        assert [Path(r.source).name for r in records] == ["handbook.txt", "small1.md", "small2.txt"]
        chunks = {Path(r.source).name: r.chunks for r in records}
        print(f"\nkill -9 test: chunks per document {chunks}")
        assert chunks["handbook.txt"] >= 40
        assert kb.store.chunk_counts() == {r.doc_id: r.chunks for r in records}
        assert kb.store.count() == sum(r.chunks for r in records)
        retriever = kb.retriever()
        for i, name in enumerate(small):
            assert retriever.search(question(i), top_k=1)[0].chunk.source == str(root / name)
        hit = retriever.search("Who keeps the emergency generator's fuel card?", top_k=1)[0]
        assert hit.chunk.source == str(large)
        assert "Zofia Nowak" in hit.chunk.text
    finally:
        ledger.close()
        kb.store.close()  # the store only: the session's MiniLM stays loaded
