"""bench/ledger.py through its real code path at a toy size, with the test PostgreSQL: every query timed on
both ledgers, the same rows found by each. Behaviour only: no timing is asserted."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

from support.postgres import PostgresServer

from bench import ledger

QUERIES = {
    "by_source",
    "under_team",
    "under_dept",
    "first_page",
    "deep_page",
    "deep_page_cursor",
    "walk_100k",
    "count",
}


def test_the_bench_times_every_query_on_both_ledgers_over_the_same_rows(
    postgres_server: PostgresServer, tmp_path: Path
) -> None:
    url = postgres_server.create_database()
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        ledger.main(
            [
                "--rows",
                "3000",
                "--repeats",
                "3",
                "--database-url",
                url,
                "--workdir",
                str(tmp_path),
                "--old-scan",
            ]
        )
    report = json.loads(out.getvalue())  # stdout holds exactly one JSON object
    assert report["rows"] == 3000 and report["machine"]["cores"]
    for side in ("postgres", "baseline_sqlite"):
        assert set(report[side]) >= QUERIES
        assert all(report[side][name]["n"] >= 3 for name in QUERIES)
    # A team holds rows/1000 documents, a department rows/100; both ledgers list the same ones.
    assert report["postgres"]["rows_listed"] == report["baseline_sqlite"]["rows_listed"] == {
        "under_team": 3, "under_dept": 30, "walk_100k": 3000,
    }  # fmt: skip
    assert report["old_scan_sqlite"]["rows_listed"] == 3
    assert set(report["postgres_over_sqlite_p50"]) == QUERIES
