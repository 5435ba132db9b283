"""One contract for both ledgers: every test runs on the SQLite file and on a real PostgreSQL started by the
tests (tests/support/postgres.py), opened the way the product opens them (open_ledger from Settings)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support.concurrent import run_at_once

from ingest.ledger import Ledger, documents_under, open_ledger
from rag.config import Settings
from rag.errors import StaleWriteError
from rag.types import DocumentRecord

OpenLedger = Callable[[], Ledger]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(params=["sqlite", "postgres"])
def settings_for(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """Settings that open the ledger under test: RAG_DATABASE_URL set for PostgreSQL, unset for SQLite."""
    url = request.getfixturevalue("postgres_url") if request.param == "postgres" else None
    return Settings(data_dir=tmp_path / "data", database_url=url, _env_file=None)  # type: ignore[call-arg]


@pytest.fixture
def reopen(settings_for: Settings) -> Iterator[OpenLedger]:
    """Opens another handle on the same ledger (closed at the end), as another process would."""
    opened: list[Ledger] = []

    def open_one() -> Ledger:
        opened.append(open_ledger(settings_for))
        return opened[-1]

    yield open_one
    for ledger in opened:
        ledger.close()


@pytest.fixture
def ledger(reopen: OpenLedger) -> Ledger:
    return reopen()


def doc(n: int | str, source: str | None = None, **fields: object) -> DocumentRecord:
    record = DocumentRecord(
        doc_id=f"d{n}",
        source=source or f"/docs/{n}.md",
        sha256=f"sha-{n}",
        size=10,
        mtime_ns=1_700_000_000_000_000_000,
        chunk_ids=[f"c{n}-0", f"c{n}-1"],
        title=f"Title {n}",
        file_type="md",
        pipeline="v3:384:48",
        access=["group:everyone"],
        ingested_at="2026-11-30T12:00:00+00:00",
    )
    for name, value in fields.items():
        setattr(record, name, value)
    return record


def sources(records: list[DocumentRecord] | Iterator[DocumentRecord]) -> list[str]:
    return [r.source for r in records]


# -- documents ---------------------------------------------------------------------------------------------


def test_a_record_reads_back_as_written(ledger: Ledger) -> None:
    written = doc(1, "/docs/Ünïcode 東京 😀.pdf", access=["group:hr", "user:ann"], access_override=[])
    ledger.put(written)
    for read in (ledger.get("d1"), ledger.by_source("/docs/Ünïcode 東京 😀.pdf")):
        assert read == written
    assert read is not None and read.access_override == [] and read.generation == 1
    ledger.put(doc(2, access_override=None, access=[], chunk_ids=[], ingested_at=""))
    second = ledger.get("d2")
    assert second is not None and second.access_override is None and second.access == []
    assert second.chunk_ids == [] and second.ingested_at  # stamped when not given
    assert ledger.get("nope") is None and ledger.by_source("/nope") is None


def test_a_rename_is_a_put_under_the_new_source(ledger: Ledger) -> None:
    ledger.put(doc(1, "/docs/old.md"))
    ledger.put(doc(1, "/docs/new.md"))
    assert ledger.by_source("/docs/old.md") is None
    moved = ledger.by_source("/docs/new.md")
    assert moved is not None and moved.doc_id == "d1" and moved.generation == 2
    assert ledger.count() == 1


def test_a_put_replaces_another_document_that_held_the_source(ledger: Ledger) -> None:
    ledger.put(doc(1, "/docs/a.md"))
    ledger.put(doc(2, "/docs/a.md"))  # a file moved over another ingested one
    assert ledger.get("d1") is None
    assert sources(ledger.documents()) == ["/docs/a.md"]


def test_touch_and_set_access_change_only_their_fields(ledger: Ledger) -> None:
    ledger.put(doc(1))
    ledger.touch("d1", 99, 123)
    ledger.set_access("d1", ["group:legal"])
    record = ledger.get("d1")
    assert record is not None
    assert (record.size, record.mtime_ns, record.access) == (99, 123, ["group:legal"])
    assert record.chunk_ids == ["c1-0", "c1-1"] and record.generation == 1  # content untouched
    ledger.touch("unknown", 1, 1)  # nothing to touch: no error
    assert ledger.count() == 1


def test_get_many_returns_the_existing_records_by_source_in_few_queries(ledger: Ledger) -> None:
    for n in range(1200):  # more ids than one SQLite statement takes
        ledger.put(doc(n, f"/docs/{1199 - n:04d}.md"))
    wanted = [f"d{n}" for n in range(0, 1200, 2)] + ["d-missing", "d0"]  # unknown and repeated ids
    found = ledger.get_many(wanted)
    assert sorted(r.doc_id for r in found) == sorted(f"d{n}" for n in range(0, 1200, 2))
    assert sources(found) == sorted(sources(found))
    assert ledger.get_many([]) == []


def test_remove_and_clear(ledger: Ledger) -> None:
    for n in range(3):
        ledger.put(doc(n))
    ledger.record_failure("/docs/bad.pdf", "x", "broken")
    ledger.remove("d1")
    ledger.remove("d1")  # twice: no error
    assert sources(ledger.documents()) == ["/docs/0.md", "/docs/2.md"]
    ledger.clear()
    assert (ledger.count(), ledger.documents(), ledger.failures()) == (0, [], [])


def test_failures_are_recorded_replaced_and_cleared(ledger: Ledger) -> None:
    ledger.record_failure("/docs/b.pdf", "1", "The PDF is password-protected.")
    ledger.record_failure("/docs/a.pdf", "2", "first")
    ledger.record_failure("/docs/a.pdf", "3", "second")
    assert [(f.source, f.sha256, f.error) for f in ledger.failures()] == [
        ("/docs/a.pdf", "3", "second"),
        ("/docs/b.pdf", "1", "The PDF is password-protected."),
    ]
    assert all(f.failed_at for f in ledger.failures())
    ledger.clear_failure("/docs/b.pdf")
    ledger.put(doc("a", "/docs/a.pdf"))  # a successful ingest clears the file's failure
    assert ledger.failures() == []


# -- listing -----------------------------------------------------------------------------------------------

# Code point order; both ledgers agree on it whatever the database's locale.
ODD_SOURCES = [
    "/docs/A.md",
    "/docs/a b.md",
    "/docs/a%b.md",
    "/docs/a_b.md",
    "/docs/axb.md",
    "/docs/z.md",
    "/docs/Ä.md",
    "/docs/東京/報告.pdf",
    "/docs/한국어.txt",
]


def test_count_and_documents_page_by_source_in_code_point_order(ledger: Ledger) -> None:
    for n, source in enumerate(reversed(ODD_SOURCES)):
        ledger.put(doc(n, source))
    assert ledger.count() == len(ODD_SOURCES)
    assert sources(ledger.documents()) == sorted(ODD_SOURCES) == ODD_SOURCES
    assert sources(ledger.documents(offset=2, limit=3)) == ODD_SOURCES[2:5]
    assert sources(ledger.documents(offset=8, limit=5)) == ODD_SOURCES[8:]
    # A page after a source seeks to it: the same pages as offsets, from any source onwards.
    for k in range(len(ODD_SOURCES)):
        assert sources(ledger.documents(limit=3, after=ODD_SOURCES[k])) == ODD_SOURCES[k + 1 : k + 4]
    assert sources(ledger.documents(offset=1, limit=2, after=ODD_SOURCES[0])) == ODD_SOURCES[2:4]
    assert ledger.documents(after=ODD_SOURCES[-1]) == []


def test_pages_walk_everything_a_page_at_a_time(ledger: Ledger) -> None:
    for n in range(10):
        ledger.put(doc(n, f"/docs/{n:02}.md"))
    pages = list(ledger.pages(page_size=3))
    assert [len(p) for p in pages] == [3, 3, 3, 1]
    assert [r.source for p in pages for r in p] == [f"/docs/{n:02}.md" for n in range(10)]
    assert [len(p) for p in ledger.pages(page_size=5)] == [5, 5]  # an exact fit ends cleanly
    assert list(ledger.pages(under="/elsewhere")) == []


def test_writes_between_pages_neither_skip_nor_repeat_a_document(ledger: Ledger) -> None:
    for n in range(10):
        ledger.put(doc(n, f"/docs/{n:02}.md"))
    seen: list[str] = []
    for page in ledger.pages(page_size=3):
        for record in page:
            seen.append(record.source)
            ledger.remove(record.doc_id)  # what sync's remove_missing does while walking
            record.access = ["group:new"]
    assert seen == [f"/docs/{n:02}.md" for n in range(10)]
    assert ledger.count() == 0


PREFIX_SOURCES = [
    "/srv/doc",  # the folder's name starts with this file's: not in it, nor it in the folder
    "/srv/docs-old/a.md",
    "/srv/docs.bak/a.md",
    "/srv/docs/a.md",
    "/srv/docs/sub/b.md",
    "/srv/docs/100%/c.md",
    "/srv/docs/x_y/d.md",
    "/srv/docs/東京/e.md",
    "/srv/docs0/f.md",
    "/srv/docsx/g.md",
    "/srv/dox/h.md",
    "/srv/d%cs/i.md",
    "/srv/d_cs/j.md",
    "/srv/東京/k.md",
    "/srv/東京x/l.md",
    "/srv/a\\b/m.md",
]


def under(ledger: Ledger, path: str, page_size: int = 1000) -> list[str]:
    return [r.source for p in ledger.pages(under=path, page_size=page_size) for r in p]


@pytest.mark.parametrize("page_size", [1, 2, 1000])
def test_prefix_queries_take_whole_path_components(ledger: Ledger, page_size: int) -> None:
    for n, source in enumerate(PREFIX_SOURCES):
        ledger.put(doc(n, source))
    in_docs = ["/srv/docs/100%/c.md", "/srv/docs/a.md", "/srv/docs/sub/b.md", "/srv/docs/x_y/d.md",
               "/srv/docs/東京/e.md"]  # fmt: skip
    assert under(ledger, "/srv/docs", page_size) == in_docs
    assert under(ledger, "/srv/docs/", page_size) == in_docs
    # LIKE's wildcards and escape character are plain characters of a path.
    assert under(ledger, "/srv/d%cs", page_size) == ["/srv/d%cs/i.md"]
    assert under(ledger, "/srv/d_cs", page_size) == ["/srv/d_cs/j.md"]
    assert under(ledger, "/srv/docs/100%", page_size) == ["/srv/docs/100%/c.md"]
    assert under(ledger, "/srv/a\\b", page_size) == ["/srv/a\\b/m.md"]
    assert under(ledger, "/srv/東京", page_size) == ["/srv/東京/k.md"]
    # A file is "under" itself; "/" holds everything.
    assert under(ledger, "/srv/docs/a.md", page_size) == ["/srv/docs/a.md"]
    assert under(ledger, "/", page_size) == sorted(PREFIX_SOURCES)
    assert under(ledger, "/srv/nothing", page_size) == []
    assert sources(documents_under(ledger, "/srv/docs-old")) == ["/srv/docs-old/a.md"]


# -- generations -------------------------------------------------------------------------------------------


def test_every_put_raises_the_generation(ledger: Ledger) -> None:
    record = doc(1)
    assert record.generation == 0
    assert ledger.put(record) == 1 and record.generation == 1
    assert ledger.put(doc(1, sha256="new")) == 2
    got = ledger.get("d1")
    assert got is not None and got.generation == 2


def test_a_writer_that_read_an_old_generation_loses_and_changes_nothing(ledger: Ledger) -> None:
    ledger.put(doc(1, sha256="v1"))
    read = ledger.get("d1")
    assert read is not None and read.generation == 1
    ledger.put(doc(1, sha256="v2"), expected_generation=1)  # the newer worker
    with pytest.raises(StaleWriteError) as stale:
        ledger.put(doc(1, sha256="stale"), expected_generation=read.generation)
    assert "newer result is kept" in stale.value.message
    kept = ledger.get("d1")
    assert kept is not None and (kept.sha256, kept.generation) == ("v2", 2)


def test_a_new_document_is_written_once_by_expecting_generation_zero(ledger: Ledger) -> None:
    assert ledger.put(doc(1, sha256="first"), expected_generation=0) == 1
    with pytest.raises(StaleWriteError):
        ledger.put(doc(1, sha256="second"), expected_generation=0)
    with pytest.raises(StaleWriteError):  # another document took the path meanwhile
        ledger.put(doc(2, "/docs/1.md"), expected_generation=0)
    kept = ledger.by_source("/docs/1.md")
    assert kept is not None and (kept.doc_id, kept.sha256) == ("d1", "first")


def test_a_removed_document_is_stale_for_a_writer_that_read_it(ledger: Ledger) -> None:
    ledger.put(doc(1))
    ledger.remove("d1")
    with pytest.raises(StaleWriteError):
        ledger.put(doc(1), expected_generation=1)
    assert ledger.count() == 0


def race(ledgers: list[Ledger], generation: int, names: list[str]) -> tuple[list[str], list[str]]:
    """Each ledger handle writes d1 (content ``names[i]``) expecting ``generation``, all released at
    once; returns the names that won and lost."""
    start = threading.Barrier(len(ledgers))
    won: list[str] = []
    lost: list[str] = []

    def write(ledger: Ledger, name: str) -> None:
        start.wait()
        try:
            ledger.put(doc(1, sha256=name), expected_generation=generation)
            won.append(name)
        except StaleWriteError:
            lost.append(name)

    threads = [threading.Thread(target=write, args=pair) for pair in zip(ledgers, names, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return won, lost


def test_of_threads_that_read_the_same_generation_exactly_one_writes(reopen: OpenLedger) -> None:
    ledgers = [reopen() for _ in range(4)]
    ledgers[0].put(doc(1, sha256="v0"))
    for round_ in range(5):
        expected = ledgers[0].get("d1")
        assert expected is not None
        won, lost = race(ledgers, expected.generation, [f"r{round_}w{i}" for i in range(len(ledgers))])
        assert len(won) == 1 and len(lost) == len(ledgers) - 1
        final = ledgers[1].get("d1")
        assert final is not None and final.sha256 == won[0]
        assert final.generation == expected.generation + 1


def test_of_threads_adding_the_same_new_document_exactly_one_writes(reopen: OpenLedger) -> None:
    ledgers = [reopen() for _ in range(4)]
    won, lost = race(ledgers, 0, [f"w{i}" for i in range(len(ledgers))])
    assert len(won) == 1 and len(lost) == len(ledgers) - 1
    final = ledgers[2].get("d1")
    assert final is not None and (final.sha256, final.generation) == (won[0], 1)


_PROCESS_WRITER = """
import json, sys
from ingest.ledger import open_ledger
from rag.config import Settings
from rag.errors import StaleWriteError
from rag.types import DocumentRecord

settings = Settings.model_validate_json(sys.argv[1])
ledger = open_ledger(settings)
sys.stdout.write("ready\\n")
sys.stdout.flush()
sys.stdin.readline()  # go
record = DocumentRecord("d1", "/docs/1.md", sys.argv[2], 1, 1, [sys.argv[2] + "-0"])
try:
    ledger.put(record, expected_generation=int(sys.argv[3]))
    print("won")
except StaleWriteError:
    print("lost")
ledger.close()
"""


def test_of_processes_that_read_the_same_generation_exactly_one_writes(
    settings_for: Settings, ledger: Ledger
) -> None:
    ledger.put(doc(1, sha256="v0"))
    config = json.dumps({"data_dir": str(settings_for.data_dir), "database_url": _secret(settings_for)})
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", _PROCESS_WRITER, config, f"p{i}", "1"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        for i in range(3)
    ]
    try:
        for writer in writers:  # every one has opened the ledger before any writes
            assert writer.stdout is not None and writer.stdout.readline() == "ready\n"
        for writer in writers:
            assert writer.stdin is not None
            writer.stdin.write("go\n")
            writer.stdin.flush()
        results = [writer.communicate(timeout=60)[0].strip() for writer in writers]
    finally:
        for writer in writers:
            writer.kill() if writer.poll() is None else None
    assert sorted(results) == ["lost", "lost", "won"]
    final = ledger.get("d1")
    assert final is not None and final.generation == 2
    assert final.sha256 == f"p{results.index('won')}"


def _secret(settings: Settings) -> str | None:
    return None if settings.database_url is None else settings.database_url.get_secret_value()


# -- persistence -------------------------------------------------------------------------------------------


def test_records_survive_closing_and_reopening(reopen: OpenLedger) -> None:
    first = reopen()
    first.put(doc(1, "/docs/東京.md"))
    first.put(doc(1, "/docs/東京.md", sha256="v2", access_override=["group:hr"]))
    first.record_failure("/docs/bad.pdf", "x", "broken")
    first.close()
    again = reopen()
    record = again.by_source("/docs/東京.md")
    assert record is not None and (record.sha256, record.generation) == ("v2", 2)
    assert record.access_override == ["group:hr"]
    assert [f.source for f in again.failures()] == ["/docs/bad.pdf"]


def test_ledgers_opened_at_once_create_the_schema_once(reopen: OpenLedger) -> None:
    opened, errors = run_at_once(reopen)
    assert errors == [] and len(opened) == 4
    opened[0].put(doc(1))
    assert all(ledger.count() == 1 for ledger in opened)
