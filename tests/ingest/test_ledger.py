"""The SQLite ledger survives upgrades: an older file gains new columns in place, with its records intact
(the behaviour both ledgers share is in test_ledger_contract.py)."""

from __future__ import annotations

import sqlite3
from functools import partial
from pathlib import Path

from support.concurrent import run_at_once

from ingest.ledger_sqlite import SqliteLedger
from rag.types import DocumentRecord


def test_ledger_from_an_older_version_is_migrated_in_place(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    old = sqlite3.connect(path)
    old.executescript(
        """
        CREATE TABLE documents (doc_id TEXT PRIMARY KEY, source TEXT NOT NULL UNIQUE,
            sha256 TEXT NOT NULL, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
            chunk_ids TEXT NOT NULL, ingested_at TEXT NOT NULL,
            title TEXT NOT NULL DEFAULT '', file_type TEXT NOT NULL DEFAULT '');
        INSERT INTO documents
            VALUES ('d1', '/docs/a.md', 'abc', 10, 5, '["c1", "c2"]', '2026-01-01', 'a', 'md');
        """
    )
    old.commit()
    old.close()
    ledger = SqliteLedger(path)
    record = ledger.by_source("/docs/a.md")
    assert record is not None and record.chunk_ids == ["c1", "c2"] and record.pipeline == ""
    assert (record.access, record.access_override, record.generation) == ([], None, 1)
    ledger.put(DocumentRecord("d2", "/docs/b.md", "def", 1, 1, ["c3"], pipeline="v2:384:48"))
    assert [r.pipeline for r in ledger.documents()] == ["", "v2:384:48"]
    # A writer that read the migrated record wins its compare-and-set; one that read nothing loses.
    assert ledger.put(record, expected_generation=1) == 2
    ledger.close()
    reopened = SqliteLedger(path)  # opening a current ledger again changes nothing
    assert [(r.source, r.generation) for r in reopened.documents()] == [("/docs/a.md", 2), ("/docs/b.md", 1)]
    reopened.close()


def test_ledger_with_labels_but_no_generations_is_migrated_in_place(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    old = sqlite3.connect(path)
    old.executescript(
        """
        CREATE TABLE documents (doc_id TEXT PRIMARY KEY, source TEXT NOT NULL UNIQUE,
            sha256 TEXT NOT NULL, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
            chunk_ids TEXT NOT NULL, ingested_at TEXT NOT NULL,
            title TEXT NOT NULL DEFAULT '', file_type TEXT NOT NULL DEFAULT '',
            pipeline TEXT NOT NULL DEFAULT '', access TEXT NOT NULL DEFAULT '[]', access_override TEXT);
        CREATE TABLE failures (source TEXT PRIMARY KEY, sha256 TEXT NOT NULL, error TEXT NOT NULL,
            failed_at TEXT NOT NULL);
        INSERT INTO documents VALUES ('d1', '/docs/a.md', 'abc', 10, 5, '["c1"]', '2026-01-01', 'a', 'md',
            'v3:384:48', '["group:hr"]', '["group:hr"]');
        INSERT INTO failures VALUES ('/docs/bad.pdf', 'x', 'broken', '2026-01-01');
        """
    )
    old.commit()
    old.close()
    ledger = SqliteLedger(path)
    record = ledger.get("d1")
    assert record is not None
    assert (record.access, record.access_override, record.generation) == (["group:hr"], ["group:hr"], 1)
    assert [f.source for f in ledger.failures()] == ["/docs/bad.pdf"]
    assert [r.source for p in ledger.pages(under="/docs") for r in p] == ["/docs/a.md"]
    ledger.close()


def test_failures_are_recorded_and_cleared_by_a_successful_ingest(tmp_path: Path) -> None:
    ledger = SqliteLedger(tmp_path / "ledger.sqlite3")
    ledger.record_failure("/docs/bad.pdf", "123", "The PDF is password-protected.")
    assert [(f.source, f.error) for f in ledger.failures()] == [
        ("/docs/bad.pdf", "The PDF is password-protected.")
    ]
    ledger.put(DocumentRecord("d", "/docs/bad.pdf", "456", 1, 1, ["c"]))
    assert ledger.failures() == []
    ledger.close()


def test_a_new_ledger_opened_by_several_threads_at_once_never_reports_locked(tmp_path: Path) -> None:
    # Switching a new file to WAL is refused at once ("database is locked", no busy timeout) while
    # another connection holds it; the race is rare, so it is run many times (~1.5% of rounds failed).
    for round_ in range(300):
        path = tmp_path / f"ledger-{round_}.sqlite3"
        opened, errors = run_at_once(partial(SqliteLedger, path), timeout_s=30)
        assert errors == [], f"round {round_}"
        assert len(opened) == 4
        for ledger in opened:
            ledger.close()
