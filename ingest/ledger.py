"""The ingest ledger: which file has which content hash and which chunk ids, plus per-file failures.

One interface, two implementations: SQLite in the knowledge base's folder (one box, the default;
ingest/ledger_sqlite.py) and PostgreSQL when RAG_DATABASE_URL is set (API replicas and ingest workers on
several boxes sharing one ledger; ingest/ledger_postgres.py). tests/ingest/test_ledger_contract.py holds
both to the same behaviour.

The store is written first and the ledger last, so after a crash the ledger may lag behind the store but
never claims chunks that are not there: the next sync redoes the file (deterministic ids make that
idempotent) and deletes every chunk of the document that the new record does not list.

Every record carries a **generation**, raised by each :meth:`Ledger.put`. A writer that read a document
at generation g writes with ``expected_generation=g`` and wins only if nobody wrote it since: otherwise
the ledger raises StaleWriteError and keeps the newer record, so a stale worker (one whose job was
presumed dead and redone) cannot overwrite a newer result.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

from rag.errors import ConfigError, StaleWriteError
from rag.types import DocumentRecord

if TYPE_CHECKING:
    from rag.config import Settings

__all__ = ["PAGE_SIZE", "Failure", "Ledger", "StaleWriteError", "children_range", "now_iso", "open_ledger"]

# Records per query when walking the ledger: a page costs one round trip, and 5M rows never sit in memory.
PAGE_SIZE = 1000


@dataclass(frozen=True, slots=True)
class Failure:
    source: str
    sha256: str
    error: str
    failed_at: str


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def children_range(root: str) -> tuple[str, str]:
    """The half-open range [low, high) of sources strictly below the folder ``root``, by whole path
    components: "/a/docs" covers "/a/docs/x" but not "/a/docs-old/x" nor "/a/docsx". In byte (code
    point) order every "root/..." sorts between "root/" and "root0" ('0' follows '/'), so an index on the
    source serves it as one range scan, and no character in a path (%, _, \\) needs escaping."""
    base = root.rstrip("/")
    return base + "/", base + "0"


class Ledger(Protocol):
    """What ingest knows about each document. Sources sort by code point (byte order), the same in both
    implementations. Methods are safe to call from several threads."""

    def get(self, doc_id: str) -> DocumentRecord | None: ...

    def get_many(self, doc_ids: Sequence[str]) -> list[DocumentRecord]:
        """The records of those ``doc_ids`` that exist, by source, in a few queries however many."""
        ...

    def by_source(self, source: str) -> DocumentRecord | None: ...

    def documents(
        self, offset: int = 0, limit: int | None = None, after: str | None = None
    ) -> list[DocumentRecord]:
        """One page of documents by source (the API's listing); walk everything with :meth:`pages`.
        ``after``: start after this source instead of skipping ``offset`` rows (an index seek, however
        deep the page; an offset is read and thrown away row by row)."""
        ...

    def pages(self, under: str | None = None, page_size: int = PAGE_SIZE) -> Iterator[list[DocumentRecord]]:
        """Every document (or those at or below the path ``under``, by whole path components) in pages of
        ``page_size``, by source. Each page is its own query continuing after the last source seen, so
        the caller may write to the ledger between pages (relabel, remove) and nothing is held open."""
        ...

    def count(self) -> int: ...

    def put(self, record: DocumentRecord, expected_generation: int | None = None) -> int:
        """Write ``record`` (replacing whatever other record held its source: a rename) and clear its
        source's failure; returns the record's new generation, also set on ``record``.

        ``expected_generation``: write only if the document is still at that generation (0: it is not in
        the ledger and no other document holds its source); otherwise raise StaleWriteError and change
        nothing. None: write whatever is there (a relabel, a move)."""
        ...

    def touch(self, doc_id: str, size: int, mtime_ns: int) -> None:
        """Remember a new mtime for unchanged content, so the next sync need not hash the file again.
        Leaves the generation alone: the content and chunks did not change."""
        ...

    def set_access(self, doc_id: str, access: list[str]) -> None:
        """Remember the labels a document's chunks now carry (written to the store first)."""
        ...

    def remove(self, doc_id: str) -> None: ...

    def clear(self) -> None: ...

    def record_failure(self, source: str, sha256: str, error: str) -> None: ...

    def clear_failure(self, source: str) -> None: ...

    def failures(self) -> list[Failure]: ...

    def close(self) -> None: ...


PageQuery = Callable[[str, bool, "str | None", int], list[DocumentRecord]]


def keyset_pages(
    page: PageQuery,
    by_source: Callable[[str], DocumentRecord | None],
    under: str | None,
    page_size: int,
) -> Iterator[list[DocumentRecord]]:
    """The paging both implementations share. ``page(low, inclusive, high, limit)`` returns up to
    ``limit`` records by source from ``low`` (included or not) to ``high`` (excluded; None: no end).
    Each page continues after the last source of the one before (never OFFSET, which rereads the rows
    it skips), so walking 5M rows costs 5M index steps, and writes between pages do not shift it."""
    if under is None:
        low, high = "", None
    else:
        own = by_source(under)  # the path itself: a file (a folder has no record of its own)
        if own is not None:
            yield [own]
        low, high = children_range(under)
    inclusive = True
    while True:
        records = page(low, inclusive, high, page_size)
        if records:
            yield records
        if len(records) < page_size:
            return
        low, inclusive = records[-1].source, False


def documents_under(ledger: Ledger, under: str | None = None) -> Iterator[DocumentRecord]:
    """Every document (at or below ``under``) one at a time, a page in memory at most."""
    for page in ledger.pages(under):
        yield from page


def open_ledger(settings: Settings) -> Ledger:
    """PostgreSQL when RAG_DATABASE_URL is set (shared by every process of the knowledge base), else the
    SQLite file in the knowledge base's folder."""
    if settings.database_url is not None:
        try:
            from ingest.ledger_postgres import PostgresLedger
        except ImportError as exc:
            raise ConfigError(
                "RAG_DATABASE_URL is set but the PostgreSQL driver is not installed: "
                "pip install 'private-rag[postgres]' (or unset RAG_DATABASE_URL for the SQLite ledger)."
            ) from exc
        return PostgresLedger(settings.database_url.get_secret_value(), knowledge_base=settings.collection)
    from ingest.ledger_sqlite import SqliteLedger

    return SqliteLedger(settings.ledger_path)


def check_generation(doc_id: str, expected: int | None, current: int, other_holder: str | None) -> None:
    """The compare-and-set rule both implementations apply inside their write transaction: ``current``
    is the document's generation (0: absent), ``other_holder`` another document holding its source."""
    if expected is None:
        return
    if current != expected or (expected == 0 and other_holder is not None):
        raise StaleWriteError(
            f"Document {doc_id} changed while it was being ingested (generation {current}, this write "
            f"read {expected}): the newer result is kept and this one discarded."
        )
