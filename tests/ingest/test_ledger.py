"""The ledger survives upgrades: an older file gains new columns in place, with its records intact."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from ingest.ledger import Ledger
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
    ledger = Ledger(path)
    record = ledger.by_source("/docs/a.md")
    assert record is not None and record.chunk_ids == ["c1", "c2"] and record.pipeline == ""
    ledger.put(DocumentRecord("d2", "/docs/b.md", "def", 1, 1, ["c3"], pipeline="v2:384:48"))
    assert [r.pipeline for r in ledger.documents()] == ["", "v2:384:48"]
    ledger.close()


def test_failures_are_recorded_and_cleared_by_a_successful_ingest(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.sqlite3")
    ledger.record_failure("/docs/bad.pdf", "123", "The PDF is password-protected.")
    assert [(f.source, f.error) for f in ledger.failures()] == [
        ("/docs/bad.pdf", "The PDF is password-protected.")
    ]
    ledger.put(DocumentRecord("d", "/docs/bad.pdf", "456", 1, 1, ["c"]))
    assert ledger.failures() == []
    ledger.close()
