"""The PostgreSQL test server: a real cluster, one database per test, nothing shared between tests."""

from __future__ import annotations

import psycopg

from support.postgres import PostgresServer


def test_serves_sql_over_tcp_with_the_url_it_hands_out(postgres_url: str) -> None:
    with psycopg.connect(postgres_url) as conn:
        version = conn.execute("SHOW server_version_num").fetchone()
        encoding = conn.execute("SHOW server_encoding").fetchone()
    assert version is not None and int(version[0]) >= 150000
    assert encoding == ("UTF8",)


def test_each_test_gets_an_empty_database(postgres_server: PostgresServer, postgres_url: str) -> None:
    with psycopg.connect(postgres_url) as conn:
        conn.execute("CREATE TABLE left_behind (x int)")
    other = postgres_server.create_database()
    try:
        with psycopg.connect(other) as conn:
            tables = conn.execute("SELECT count(*) FROM pg_tables WHERE tablename = 'left_behind'").fetchone()
        assert tables == (0,)
    finally:
        postgres_server.drop_database(other.rsplit("/", 1)[1])
