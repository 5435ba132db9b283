"""The ingest ledger at scale: prefix listing, pages and lookups with 1M+ documents in PostgreSQL, against
the same queries on the SQLite ledger holding the same rows (the baseline, in the same run).

Both ledgers are filled in bulk (COPY, one SQLite transaction) with synthetic records laid out like a
company share: /corpus/dept-NNN/team-NN/doc-NNNNNN.pdf, 100 departments of 10 teams. Then every query goes
through the Ledger interface the product uses:

- ``by_source``: one document by path (every check of a file does it);
- ``under_team`` / ``under_dept``: every document below a folder (sync --remove-missing, the watcher's
  moved folder), a team holding rows/1000 documents, a department rows/100;
- ``first_page`` / ``deep_page``: 50 documents by source at offset 0 and at the middle (the API listing);
  ``deep_page_cursor``: the same middle page reached by the API's cursor (after a source, a seek);
- ``walk_100k``: 100 pages of 1000 from the start (what relabelling after an access-rule change does);
- ``count``.

With ``--old-scan`` it also times, on SQLite only, the listing the service did before: every record
loaded into Python and filtered by prefix.

PostgreSQL is a throw-away cluster started here (tests/support/postgres.py, the machine's PostgreSQL 15)
unless ``--database-url`` names one (its ledger tables for the knowledge base "bench_ledger" are
cleared). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

import psycopg

from bench.common import emit, percentiles, progress
from bench.concurrency import use_test_support
from ingest.ledger import Ledger, documents_under
from ingest.ledger_postgres import PostgresLedger
from ingest.ledger_sqlite import SqliteLedger

KNOWLEDGE_BASE = "bench_ledger"
DEPARTMENTS = 100
TEAMS = 10
CHUNKS_PER_DOC = 8


def source(n: int, rows: int) -> str:
    """Row n's path: consecutive rows share a team, so each team and department is one contiguous block."""
    per_team = max(1, rows // (DEPARTMENTS * TEAMS))
    team = min(n // per_team, DEPARTMENTS * TEAMS - 1)
    return f"/corpus/dept-{team // TEAMS:03}/team-{team % TEAMS:02}/doc-{n:07}.pdf"


def rows_of(rows: int) -> Iterator[tuple[Any, ...]]:
    """(doc_id, source, sha256, size, mtime_ns, chunk ids, ingested_at, title, type, pipeline, access)."""
    for n in range(rows):
        doc = uuid.UUID(int=n + 1)
        chunk_ids = [str(uuid.UUID(int=(n + 1) << 16 | i)) for i in range(CHUNKS_PER_DOC)]
        yield (
            str(doc), source(n, rows), f"{n:064x}", 100_000 + n, 1_700_000_000_000_000_000 + n, chunk_ids,
            "2026-11-30T12:00:00+00:00", f"Document {n}", "pdf", "v3:384:48", ["group:everyone"],
        )  # fmt: skip


def fill_sqlite(path: Path, rows: int) -> None:
    SqliteLedger(path).close()  # the schema, exactly as the product makes it
    db = sqlite3.connect(path)
    with db:
        db.executemany(
            "INSERT INTO documents (doc_id, source, sha256, size, mtime_ns, chunk_ids, ingested_at, title, "
            "file_type, pipeline, access, access_override, generation) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, 1)",
            ((*r[:5], _json_list(r[5]), *r[6:10], _json_list(r[10])) for r in rows_of(rows)),
        )
    db.execute("ANALYZE")
    db.close()


def _json_list(items: Sequence[str]) -> str:
    return "[" + ", ".join(f'"{item}"' for item in items) + "]"


def fill_postgres(url: str, rows: int) -> None:
    PostgresLedger(url, KNOWLEDGE_BASE).close()  # the schema, exactly as the product makes it
    with psycopg.connect(url) as conn:
        conn.execute("DELETE FROM ledger_documents WHERE kb = %s", (KNOWLEDGE_BASE,))
        with conn.cursor().copy(
            "COPY ledger_documents (kb, doc_id, source, sha256, size, mtime_ns, chunk_ids, ingested_at, "
            "title, file_type, pipeline, access, generation) FROM STDIN"
        ) as copy:
            for r in rows_of(rows):
                copy.write_row((KNOWLEDGE_BASE, *r, 1))
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE ledger_documents")


def timed(fn: Callable[[], object], repeats: int) -> dict[str, float]:
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return percentiles(samples)


def measure(ledger: Ledger, rows: int, repeats: int, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    teams = [source(n, rows).rsplit("/", 1)[0] for n in range(0, rows, max(1, rows // 1000))]
    depts = sorted({team.rsplit("/", 1)[0] for team in teams})
    listed: dict[str, int] = {}
    middle = source(rows // 2 - 1, rows)  # the source before the middle: the cursor of the page ending there

    def under(folders: list[str], key: str) -> Callable[[], None]:
        def run() -> None:
            listed[key] = sum(1 for _ in documents_under(ledger, rng.choice(folders)))

        return run

    def walk() -> None:
        pages = ledger.pages(page_size=1000)
        listed["walk_100k"] = sum(len(page) for page, _ in zip(pages, range(100), strict=False))

    result: dict[str, Any] = {
        "by_source": timed(lambda: ledger.by_source(source(rng.randrange(rows), rows)), repeats * 10),
        "under_team": timed(under(teams, "under_team"), repeats),
        "under_dept": timed(under(depts, "under_dept"), max(3, repeats // 5)),
        "first_page": timed(lambda: ledger.documents(offset=0, limit=50), repeats),
        "deep_page": timed(lambda: ledger.documents(offset=rows // 2, limit=50), max(3, repeats // 5)),
        "deep_page_cursor": timed(lambda: ledger.documents(limit=50, after=middle), repeats),
        "walk_100k": timed(walk, 3),
        "count": timed(ledger.count, max(3, repeats // 5)),
    }
    result["rows_listed"] = listed
    return result


def old_scan(ledger: Ledger, rows: int) -> dict[str, Any]:
    """The listing before this change: every record into Python, filtered by prefix (one sample)."""
    prefix = source(0, rows).rsplit("/", 1)[0] + "/"
    start = time.perf_counter()
    found = sum(1 for r in ledger.documents() if r.source.startswith(prefix))
    return {"under_team_ms": round((time.perf_counter() - start) * 1000, 1), "rows_listed": found}


@contextmanager
def postgres(url: str | None) -> Iterator[str]:
    if url:
        yield url
        return
    use_test_support()
    from support.postgres import running_postgres

    with running_postgres() as server:
        yield server.create_database("bench_ledger")


def ratios(pg: dict[str, Any], sqlite: dict[str, Any]) -> dict[str, float | None]:
    """PostgreSQL p50 / SQLite p50 per query (above 1: PostgreSQL slower)."""
    out: dict[str, float | None] = {}
    for name, stats in pg.items():
        if isinstance(stats, dict) and "p50_ms" in stats:
            base = sqlite[name]["p50_ms"]
            out[name] = round(stats["p50_ms"] / base, 2) if base else None
    return out


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench.ledger", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="documents in each ledger")
    parser.add_argument("--repeats", type=int, default=20, help="samples per listing query")
    parser.add_argument("--database-url", help="an existing PostgreSQL (default: start a throw-away one)")
    parser.add_argument("--workdir", type=Path, help="where the SQLite ledger goes (default: a temp dir)")
    parser.add_argument("--old-scan", action="store_true", help="also time the old load-everything listing")
    parser.add_argument("--seed", type=int, default=17)
    options = parser.parse_args(argv)

    report: dict[str, Any] = {"benchmark": "ledger", "rows": options.rows}
    workdir = nullcontext(options.workdir) if options.workdir else tempfile.TemporaryDirectory()
    with workdir as folder, postgres(options.database_url) as url:
        path = Path(folder) / "ledger.sqlite3"
        path.unlink(missing_ok=True)
        start = time.perf_counter()
        progress(f"filling SQLite with {options.rows:,} documents")
        fill_sqlite(path, options.rows)
        report["sqlite_fill_s"] = round(time.perf_counter() - start, 1)
        start = time.perf_counter()
        progress(f"filling PostgreSQL with {options.rows:,} documents")
        fill_postgres(url, options.rows)
        report["postgres_fill_s"] = round(time.perf_counter() - start, 1)

        progress("timing PostgreSQL")
        pg_ledger = PostgresLedger(url, KNOWLEDGE_BASE)
        try:
            report["postgres"] = measure(pg_ledger, options.rows, options.repeats, options.seed)
        finally:
            pg_ledger.close()
        progress("timing SQLite (baseline)")
        sqlite_ledger = SqliteLedger(path)
        try:
            report["baseline_sqlite"] = measure(sqlite_ledger, options.rows, options.repeats, options.seed)
            if options.old_scan:
                progress("timing the old load-everything listing on SQLite")
                report["old_scan_sqlite"] = old_scan(sqlite_ledger, options.rows)
        finally:
            sqlite_ledger.close()
        report["sqlite_mib"] = round(path.stat().st_size / 2**20, 1)
    report["postgres_over_sqlite_p50"] = ratios(report["postgres"], report["baseline_sqlite"])
    emit(report)
    return report


if __name__ == "__main__":
    main()
