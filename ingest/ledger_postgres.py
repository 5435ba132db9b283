"""The ledger in PostgreSQL (RAG_DATABASE_URL): one ledger shared by every API replica and ingest worker.

Several knowledge bases (RAG_COLLECTION) can share one database: every row carries its knowledge base's
name. Sources are stored with the "C" collation, so they sort by code point whatever the database's
locale (as in SQLite) and the (kb, source) index serves the range scans of children_range.

The schema is created or brought up to date when a ledger opens, in one transaction under an advisory
lock, so two processes starting at once do it once. A pool of connections serves the API's threads.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool, PoolTimeout

from ingest.ledger import PAGE_SIZE, Failure, check_generation, keyset_pages, now_iso
from rag.errors import ConfigError, ServiceUnavailableError, StaleWriteError
from rag.types import DocumentRecord

# pg_advisory_xact_lock key of schema changes (any constant; the text says whose it is).
_SCHEMA_LOCK = "SELECT pg_advisory_xact_lock(hashtextextended('private-rag ledger schema', 0))"
# Connections per process: the API's threads share them; a worker needs one.
_POOL_SIZE = 4
_CONNECT_TIMEOUT_S = 10

# Each step brings the schema from version i to i+1; a released step never changes, new ones are appended.
_MIGRATIONS = [
    """
    CREATE TABLE ledger_documents (
        kb              TEXT NOT NULL,
        doc_id          TEXT NOT NULL,
        source          TEXT COLLATE "C" NOT NULL,
        sha256          TEXT NOT NULL,
        size            BIGINT NOT NULL,
        mtime_ns        BIGINT NOT NULL,
        chunk_ids       TEXT[] NOT NULL,
        ingested_at     TEXT NOT NULL,
        title           TEXT NOT NULL DEFAULT '',
        file_type       TEXT NOT NULL DEFAULT '',
        pipeline        TEXT NOT NULL DEFAULT '',
        access          TEXT[] NOT NULL DEFAULT '{}',
        access_override TEXT[],
        generation      BIGINT NOT NULL,
        PRIMARY KEY (kb, doc_id),
        UNIQUE (kb, source)
    );
    CREATE INDEX ledger_documents_sha256 ON ledger_documents (kb, sha256);
    CREATE TABLE ledger_failures (
        kb        TEXT NOT NULL,
        source    TEXT COLLATE "C" NOT NULL,
        sha256    TEXT NOT NULL,
        error     TEXT NOT NULL,
        failed_at TEXT NOT NULL,
        PRIMARY KEY (kb, source)
    );
    """,
]

_COLUMNS = (
    "doc_id, source, sha256, size, mtime_ns, chunk_ids, ingested_at, title, file_type, pipeline, access, "
    "access_override, generation"
)


class PostgresLedger:
    def __init__(self, url: str, knowledge_base: str) -> None:
        self._kb = knowledge_base
        self._where = _describe(url)
        # One plain connection first: an unreachable server fails here at once (a pool would keep
        # retrying until its timeout), and the schema is brought up to date before anyone reads it.
        try:
            with psycopg.connect(url, connect_timeout=_CONNECT_TIMEOUT_S) as conn:
                _migrate(conn, self._where)
        except psycopg.OperationalError as exc:
            raise self._unreachable(exc) from exc
        self._pool = ConnectionPool(
            url,
            min_size=1,
            max_size=_POOL_SIZE,
            kwargs={"connect_timeout": _CONNECT_TIMEOUT_S},
            check=ConnectionPool.check_connection,  # a server restart leaves dead connections in the pool
            timeout=_CONNECT_TIMEOUT_S,
            num_workers=1,
            name="rag-ledger",
            open=True,
        )

    @contextmanager
    def _tx(self) -> Iterator[psycopg.Cursor[Any]]:
        """A cursor in one transaction: committed when the block ends, rolled back if it raises."""
        try:
            with self._pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
                yield cur
        except (PoolTimeout, psycopg.OperationalError) as exc:
            raise self._unreachable(exc) from exc

    def _unreachable(self, exc: Exception) -> ServiceUnavailableError:
        return ServiceUnavailableError(
            f"The ledger database at {self._where} cannot be reached ({exc.__class__.__name__}: "
            f"{str(exc).strip().splitlines()[0] if str(exc).strip() else 'no answer'}). Check that "
            "PostgreSQL is running and RAG_DATABASE_URL is right, then try again."
        )

    # -- documents -----------------------------------------------------------------------------------

    def get(self, doc_id: str) -> DocumentRecord | None:
        return self._one(f"SELECT {_COLUMNS} FROM ledger_documents WHERE kb = %s AND doc_id = %s", doc_id)

    def get_many(self, doc_ids: Sequence[str]) -> list[DocumentRecord]:
        return self._many(
            f"SELECT {_COLUMNS} FROM ledger_documents WHERE kb = %s AND doc_id = ANY(%s) ORDER BY source",
            list(dict.fromkeys(doc_ids)),
        )

    def by_source(self, source: str) -> DocumentRecord | None:
        return self._one(f"SELECT {_COLUMNS} FROM ledger_documents WHERE kb = %s AND source = %s", source)

    def documents(
        self, offset: int = 0, limit: int | None = None, after: str | None = None
    ) -> list[DocumentRecord]:
        # Sources are absolute paths, never empty: after "" is every document.
        return self._many(
            f"SELECT {_COLUMNS} FROM ledger_documents WHERE kb = %s AND source > %s "
            "ORDER BY source LIMIT %s OFFSET %s",
            after or "",
            limit,
            offset,
        )

    def pages(self, under: str | None = None, page_size: int = PAGE_SIZE) -> Iterator[list[DocumentRecord]]:
        return keyset_pages(self._page, self.by_source, under, page_size)

    def _page(self, after: str, inclusive: bool, before: str | None, limit: int) -> list[DocumentRecord]:
        where = "source >= %s" if inclusive else "source > %s"
        if before is None:
            return self._many(
                f"SELECT {_COLUMNS} FROM ledger_documents WHERE kb = %s AND {where} ORDER BY source LIMIT %s",
                after,
                limit,
            )
        return self._many(
            f"SELECT {_COLUMNS} FROM ledger_documents WHERE kb = %s AND {where} AND source < %s "
            "ORDER BY source LIMIT %s",
            after,
            before,
            limit,
        )

    def count(self) -> int:
        with self._tx() as cur:
            row = cur.execute("SELECT count(*) FROM ledger_documents WHERE kb = %s", (self._kb,)).fetchone()
        return int(row[0]) if row else 0

    def put(self, record: DocumentRecord, expected_generation: int | None = None) -> int:
        # Without an expected generation, a concurrent insert of the same document or source is lost
        # to us by retrying on what is there now (last writer wins, as on SQLite).
        while True:
            try:
                generation = self._put_once(record, expected_generation)
            except pg_errors.UniqueViolation as exc:
                # Another writer inserted this document or took this source after we looked.
                if expected_generation is not None:
                    raise StaleWriteError(
                        f"Document {record.doc_id} was written by another worker while it was being "
                        "ingested: the newer result is kept and this one discarded."
                    ) from exc
                continue
            if generation is not None:
                record.generation = generation
                return generation

    def _put_once(self, record: DocumentRecord, expected: int | None) -> int | None:
        """One attempt; None when the row changed between our read and our write (retry)."""
        with self._tx() as cur:
            rows = cur.execute(
                "SELECT doc_id, generation FROM ledger_documents "
                "WHERE kb = %s AND (doc_id = %s OR source = %s) FOR UPDATE",
                (self._kb, record.doc_id, record.source),
            ).fetchall()
            current = next((int(g) for d, g in rows if d == record.doc_id), 0)
            holder = next((str(d) for d, _ in rows if d != record.doc_id), None)
            check_generation(record.doc_id, expected, current, holder)
            if holder is not None:
                cur.execute("DELETE FROM ledger_documents WHERE kb = %s AND doc_id = %s", (self._kb, holder))
            # The WHERE re-checks the generation: a row inserted after our SELECT (which could not lock
            # a row that was not there yet) must not be overwritten blindly.
            cur.execute(
                f"INSERT INTO ledger_documents (kb, {_COLUMNS}) VALUES ({', '.join(['%s'] * 14)}) "
                "ON CONFLICT (kb, doc_id) DO UPDATE SET "
                + ", ".join(f"{c} = EXCLUDED.{c}" for c in _COLUMNS.split(", ")[1:])
                + " WHERE ledger_documents.generation = %s",
                (
                    self._kb,
                    record.doc_id,
                    record.source,
                    record.sha256,
                    record.size,
                    record.mtime_ns,
                    list(record.chunk_ids),
                    record.ingested_at or now_iso(),
                    record.title,
                    record.file_type,
                    record.pipeline,
                    list(record.access),
                    None if record.access_override is None else list(record.access_override),
                    current + 1,
                    current,
                ),
            )
            if cur.rowcount != 1:
                check_generation(record.doc_id, expected, current + 1, None)  # raises for a CAS write
                return None
            cur.execute(
                "DELETE FROM ledger_failures WHERE kb = %s AND source = %s", (self._kb, record.source)
            )
        return current + 1

    def touch(self, doc_id: str, size: int, mtime_ns: int) -> None:
        self._execute(
            "UPDATE ledger_documents SET size = %s, mtime_ns = %s WHERE kb = %s AND doc_id = %s",
            (size, mtime_ns, self._kb, doc_id),
        )

    def set_access(self, doc_id: str, access: list[str]) -> None:
        self._execute(
            "UPDATE ledger_documents SET access = %s WHERE kb = %s AND doc_id = %s",
            (list(access), self._kb, doc_id),
        )

    def remove(self, doc_id: str) -> None:
        self._execute("DELETE FROM ledger_documents WHERE kb = %s AND doc_id = %s", (self._kb, doc_id))

    def clear(self) -> None:
        with self._tx() as cur:
            cur.execute("DELETE FROM ledger_documents WHERE kb = %s", (self._kb,))
            cur.execute("DELETE FROM ledger_failures WHERE kb = %s", (self._kb,))

    # -- failures ------------------------------------------------------------------------------------

    def record_failure(self, source: str, sha256: str, error: str) -> None:
        self._execute(
            "INSERT INTO ledger_failures VALUES (%s, %s, %s, %s, %s) ON CONFLICT (kb, source) DO UPDATE "
            "SET sha256 = EXCLUDED.sha256, error = EXCLUDED.error, failed_at = EXCLUDED.failed_at",
            (self._kb, source, sha256, error, now_iso()),
        )

    def clear_failure(self, source: str) -> None:
        self._execute("DELETE FROM ledger_failures WHERE kb = %s AND source = %s", (self._kb, source))

    def failures(self) -> list[Failure]:
        with self._tx() as cur:
            rows = cur.execute(
                "SELECT source, sha256, error, failed_at FROM ledger_failures WHERE kb = %s ORDER BY source",
                (self._kb,),
            ).fetchall()
        return [Failure(*row) for row in rows]

    def close(self) -> None:
        self._pool.close()

    def _execute(self, sql: str, args: tuple[object, ...]) -> None:
        with self._tx() as cur:
            cur.execute(sql, args)

    def _one(self, sql: str, key: str) -> DocumentRecord | None:
        with self._tx() as cur:
            row = cur.execute(sql, (self._kb, key)).fetchone()
        return _record(row) if row else None

    def _many(self, sql: str, *args: object) -> list[DocumentRecord]:
        with self._tx() as cur:
            rows = cur.execute(sql, (self._kb, *args)).fetchall()
        return [_record(row) for row in rows]


def _migrate(conn: psycopg.Connection[Any], where: str) -> None:
    """Create or update the schema in one transaction, under an advisory lock: two processes opening
    the ledger at once (API replicas, workers) do it once, and nobody sees half of it."""
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(_SCHEMA_LOCK)
        cur.execute("CREATE TABLE IF NOT EXISTS ledger_schema (version INTEGER NOT NULL)")
        row = cur.execute("SELECT version FROM ledger_schema").fetchone()
        version = int(row[0]) if row else 0
        if version > len(_MIGRATIONS):
            raise ConfigError(
                f"The ledger database at {where} was written by a newer private-rag (schema {version}, "
                f"this one knows {len(_MIGRATIONS)}): upgrade private-rag on this machine."
            )
        for step in _MIGRATIONS[version:]:
            cur.execute(step)
        if row is None:
            cur.execute("INSERT INTO ledger_schema VALUES (%s)", (len(_MIGRATIONS),))
        elif version < len(_MIGRATIONS):
            cur.execute("UPDATE ledger_schema SET version = %s", (len(_MIGRATIONS),))


def _describe(url: str) -> str:
    """Where the database is, for messages: host, port and name, never the password."""
    try:
        info = conninfo_to_dict(url)
    except psycopg.ProgrammingError as exc:
        raise ConfigError(
            "RAG_DATABASE_URL is not a PostgreSQL connection URL (postgresql://user:password@host:5432/"
            "dbname)."
        ) from exc
    host = info.get("host") or "localhost"
    port = info.get("port") or "5432"
    return f"{host}:{port}/{info.get('dbname') or info.get('user') or ''}"


def _record(row: tuple[Any, ...]) -> DocumentRecord:
    doc_id, source, sha256, size, mtime_ns, chunk_ids, ingested_at, title, file_type, pipeline = row[:10]
    access, override, generation = row[10:]
    return DocumentRecord(
        doc_id=doc_id,
        source=source,
        sha256=sha256,
        size=int(size),
        mtime_ns=int(mtime_ns),
        chunk_ids=list(chunk_ids),
        ingested_at=ingested_at,
        title=title,
        file_type=file_type,
        pipeline=pipeline,
        access=list(access),
        access_override=None if override is None else list(override),
        generation=int(generation),
    )
