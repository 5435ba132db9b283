"""The ingest ledger: which file has which content hash and which chunk ids, plus per-file failures.

SQLite in the knowledge base's folder. The store is written first and the ledger last, so after a crash
the ledger may lag behind the store but never claims chunks that are not there: the next sync redoes the
file (deterministic ids make that idempotent) and deletes whatever the old record listed.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from rag.disk import disk_full_error, is_disk_full
from rag.types import DocumentRecord

_SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    doc_id      TEXT PRIMARY KEY,
    source      TEXT NOT NULL UNIQUE,
    sha256      TEXT NOT NULL,
    size        INTEGER NOT NULL,
    mtime_ns    INTEGER NOT NULL,
    chunk_ids   TEXT NOT NULL,
    ingested_at TEXT NOT NULL,
    title       TEXT NOT NULL DEFAULT '',
    file_type   TEXT NOT NULL DEFAULT '',
    pipeline    TEXT NOT NULL DEFAULT '',
    access      TEXT NOT NULL DEFAULT '[]',
    access_override TEXT
);
CREATE INDEX IF NOT EXISTS documents_sha256 ON documents (sha256);
CREATE TABLE IF NOT EXISTS failures (
    source    TEXT PRIMARY KEY,
    sha256    TEXT NOT NULL,
    error     TEXT NOT NULL,
    failed_at TEXT NOT NULL
);
"""


@dataclass(frozen=True, slots=True)
class Failure:
    source: str
    sha256: str
    error: str
    failed_at: str


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class Ledger:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._path = path
        # One connection shared by the API's threads, serialised by a lock; SQLite itself is the
        # crash-safe part (WAL journal, each write one transaction).
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(_SCHEMA)
        self._migrate()
        self._lock = threading.Lock()

    def _migrate(self) -> None:
        """Bring a ledger written by an older version up to date in place; nothing is dropped."""
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(documents)")}
        if "pipeline" not in columns:
            self._db.execute("ALTER TABLE documents ADD COLUMN pipeline TEXT NOT NULL DEFAULT ''")
        if "access" not in columns:
            # Empty labels: the next start re-labels every document from the access rules.
            self._db.execute("ALTER TABLE documents ADD COLUMN access TEXT NOT NULL DEFAULT '[]'")
            self._db.execute("ALTER TABLE documents ADD COLUMN access_override TEXT")

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
                self._db.execute("COMMIT")
            except BaseException as exc:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error) and is_disk_full(exc):
                    raise disk_full_error(self._path) from exc
                raise

    # -- documents -----------------------------------------------------------------------------------

    def get(self, doc_id: str) -> DocumentRecord | None:
        return self._one(f"SELECT {_COLUMNS} FROM documents WHERE doc_id = ?", (doc_id,))

    def by_source(self, source: str) -> DocumentRecord | None:
        return self._one(f"SELECT {_COLUMNS} FROM documents WHERE source = ?", (source,))

    def documents(self, offset: int = 0, limit: int | None = None) -> list[DocumentRecord]:
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_COLUMNS} FROM documents ORDER BY source LIMIT ? OFFSET ?", (limit or -1, offset)
            ).fetchall()
        return [_record(row) for row in rows]

    def count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM documents").fetchone()[0])

    def put(self, record: DocumentRecord) -> None:
        with self._tx() as db:
            db.execute(
                "DELETE FROM documents WHERE source = ? AND doc_id != ?", (record.source, record.doc_id)
            )
            db.execute(
                f"INSERT OR REPLACE INTO documents ({_COLUMNS}) VALUES ({', '.join('?' * 12)})",
                (
                    record.doc_id,
                    record.source,
                    record.sha256,
                    record.size,
                    record.mtime_ns,
                    json.dumps(record.chunk_ids),
                    record.ingested_at or now_iso(),
                    record.title,
                    record.file_type,
                    record.pipeline,
                    json.dumps(record.access),
                    None if record.access_override is None else json.dumps(record.access_override),
                ),
            )
            db.execute("DELETE FROM failures WHERE source = ?", (record.source,))

    def touch(self, doc_id: str, size: int, mtime_ns: int) -> None:
        """Remember a new mtime for unchanged content, so the next sync need not hash the file again."""
        with self._tx() as db:
            db.execute(
                "UPDATE documents SET size = ?, mtime_ns = ? WHERE doc_id = ?", (size, mtime_ns, doc_id)
            )

    def set_access(self, doc_id: str, access: list[str]) -> None:
        """Remember the labels a document's chunks now carry (written to the store first)."""
        with self._tx() as db:
            db.execute("UPDATE documents SET access = ? WHERE doc_id = ?", (json.dumps(access), doc_id))

    def remove(self, doc_id: str) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM documents WHERE doc_id = ?", (doc_id,))

    def clear(self) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM documents")
            db.execute("DELETE FROM failures")

    # -- failures ------------------------------------------------------------------------------------

    def record_failure(self, source: str, sha256: str, error: str) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO failures VALUES (?, ?, ?, ?)", (source, sha256, error, now_iso())
            )

    def clear_failure(self, source: str) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM failures WHERE source = ?", (source,))

    def failures(self) -> list[Failure]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM failures ORDER BY source").fetchall()
        return [Failure(*row) for row in rows]

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _one(self, sql: str, args: tuple[object, ...]) -> DocumentRecord | None:
        with self._lock:
            row = self._db.execute(sql, args).fetchone()
        return _record(row) if row else None


_COLUMNS = (
    "doc_id, source, sha256, size, mtime_ns, chunk_ids, ingested_at, title, file_type, pipeline, access, "
    "access_override"
)


def _record(row: tuple[object, ...]) -> DocumentRecord:
    doc_id, source, sha256, size, mtime_ns, chunk_ids, ingested_at, title, file_type, pipeline = row[:10]
    access, override = row[10:]
    return DocumentRecord(
        doc_id=str(doc_id),
        source=str(source),
        sha256=str(sha256),
        size=int(str(size)),
        mtime_ns=int(str(mtime_ns)),
        chunk_ids=list(json.loads(str(chunk_ids))),
        ingested_at=str(ingested_at),
        title=str(title),
        file_type=str(file_type),
        pipeline=str(pipeline),
        access=list(json.loads(str(access))),
        access_override=None if override is None else list(json.loads(str(override))),
    )
