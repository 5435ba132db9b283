"""The ledger in a SQLite file in the knowledge base's folder: one box, no server to run.

One connection shared by the API's threads, serialised by a lock; SQLite itself is the crash-safe part
(WAL journal, each write one transaction). Writes take the database's write lock first (BEGIN IMMEDIATE),
so a compare-and-set is atomic also against another process on the same file.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from ingest.ledger import PAGE_SIZE, Failure, check_generation, keyset_pages, now_iso
from rag.disk import disk_full_error, is_disk_full
from rag.types import DocumentRecord

# Sources compare as BINARY (UTF-8 bytes = code point order), so the UNIQUE index on source serves the
# range scans of children_range.
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
    access_override TEXT,
    generation  INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX IF NOT EXISTS documents_sha256 ON documents (sha256);
CREATE TABLE IF NOT EXISTS failures (
    source    TEXT PRIMARY KEY,
    sha256    TEXT NOT NULL,
    error     TEXT NOT NULL,
    failed_at TEXT NOT NULL
);
"""

_BUSY_TIMEOUT_S = 5.0
_IDS_PER_QUERY = 500  # well under SQLite's bound on parameters per statement
_COLUMNS = (
    "doc_id, source, sha256, size, mtime_ns, chunk_ids, ingested_at, title, file_type, pipeline, access, "
    "access_override, generation"
)


def _switch_to_wal(db: sqlite3.Connection) -> None:
    """Put the file in WAL mode, waiting out another connection that is doing the same.

    The switch needs the file to itself, and SQLite answers "database is locked" at once, without the
    busy timeout, when another connection holds it (two workers or threads opening a new ledger together),
    so it is retried here for as long as the busy timeout would have waited.
    """
    deadline = time.monotonic() + _BUSY_TIMEOUT_S
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


class SqliteLedger:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._path = path
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute(f"PRAGMA busy_timeout={int(_BUSY_TIMEOUT_S * 1000)}")
        _switch_to_wal(self._db)
        self._lock = threading.Lock()
        with self._tx() as db:  # two processes opening an old ledger at once migrate it once
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    db.execute(statement)
            self._migrate(db)

    @staticmethod
    def _migrate(db: sqlite3.Connection) -> None:
        """Bring a ledger written by an older version up to date in place; nothing is dropped."""
        columns = {row[1] for row in db.execute("PRAGMA table_info(documents)")}
        if "pipeline" not in columns:
            db.execute("ALTER TABLE documents ADD COLUMN pipeline TEXT NOT NULL DEFAULT ''")
        if "access" not in columns:
            # Empty labels: the next start re-labels every document from the access rules.
            db.execute("ALTER TABLE documents ADD COLUMN access TEXT NOT NULL DEFAULT '[]'")
            db.execute("ALTER TABLE documents ADD COLUMN access_override TEXT")
        if "generation" not in columns:
            # Every existing record has been written once.
            db.execute("ALTER TABLE documents ADD COLUMN generation INTEGER NOT NULL DEFAULT 1")

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

    def get_many(self, doc_ids: Sequence[str]) -> list[DocumentRecord]:
        found: list[DocumentRecord] = []
        ids = list(dict.fromkeys(doc_ids))
        for start in range(0, len(ids), _IDS_PER_QUERY):
            part = ids[start : start + _IDS_PER_QUERY]
            marks = ",".join("?" * len(part))
            found += self._many(f"SELECT {_COLUMNS} FROM documents WHERE doc_id IN ({marks})", tuple(part))
        return sorted(found, key=lambda r: r.source)

    def by_source(self, source: str) -> DocumentRecord | None:
        return self._one(f"SELECT {_COLUMNS} FROM documents WHERE source = ?", (source,))

    def documents(
        self, offset: int = 0, limit: int | None = None, after: str | None = None
    ) -> list[DocumentRecord]:
        # Sources are absolute paths, never empty: after "" is every document.
        return self._many(
            f"SELECT {_COLUMNS} FROM documents WHERE source > ? ORDER BY source LIMIT ? OFFSET ?",
            (after or "", limit or -1, offset),
        )

    def pages(self, under: str | None = None, page_size: int = PAGE_SIZE) -> Iterator[list[DocumentRecord]]:
        return keyset_pages(self._page, self.by_source, under, page_size)

    def _page(self, after: str, inclusive: bool, before: str | None, limit: int) -> list[DocumentRecord]:
        where = "source >= ?" if inclusive else "source > ?"
        args: tuple[object, ...] = (after, limit) if before is None else (after, before, limit)
        sql = where if before is None else f"{where} AND source < ?"
        return self._many(f"SELECT {_COLUMNS} FROM documents WHERE {sql} ORDER BY source LIMIT ?", args)

    def count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM documents").fetchone()[0])

    def put(self, record: DocumentRecord, expected_generation: int | None = None) -> int:
        with self._tx() as db:
            row = db.execute("SELECT generation FROM documents WHERE doc_id = ?", (record.doc_id,)).fetchone()
            current = int(row[0]) if row else 0
            holder = db.execute(
                "SELECT doc_id FROM documents WHERE source = ? AND doc_id != ?",
                (record.source, record.doc_id),
            ).fetchone()
            check_generation(record.doc_id, expected_generation, current, holder[0] if holder else None)
            if holder:
                db.execute("DELETE FROM documents WHERE doc_id = ?", (holder[0],))
            generation = current + 1
            db.execute(
                f"INSERT OR REPLACE INTO documents ({_COLUMNS}) VALUES ({', '.join('?' * 13)})",
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
                    generation,
                ),
            )
            db.execute("DELETE FROM failures WHERE source = ?", (record.source,))
        record.generation = generation
        return generation

    def touch(self, doc_id: str, size: int, mtime_ns: int) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE documents SET size = ?, mtime_ns = ? WHERE doc_id = ?", (size, mtime_ns, doc_id)
            )

    def set_access(self, doc_id: str, access: list[str]) -> None:
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

    def _many(self, sql: str, args: tuple[object, ...]) -> list[DocumentRecord]:
        with self._lock:
            rows = self._db.execute(sql, args).fetchall()
        return [_record(row) for row in rows]


def _record(row: tuple[object, ...]) -> DocumentRecord:
    doc_id, source, sha256, size, mtime_ns, chunk_ids, ingested_at, title, file_type, pipeline = row[:10]
    access, override, generation = row[10:]
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
        generation=int(str(generation)),
    )
