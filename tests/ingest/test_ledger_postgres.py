"""What only the PostgreSQL ledger has: a server that may be down, several knowledge bases in one database,
and a schema that a newer version may have moved on."""

from __future__ import annotations

import psycopg
import pytest
from support.processes import free_port

from ingest.ledger_postgres import PostgresLedger
from rag.errors import ConfigError, ServiceUnavailableError
from rag.types import DocumentRecord


def test_an_unreachable_server_is_a_clear_error_without_the_password() -> None:
    port = free_port()
    url = f"postgresql://rag:s3cret-pw@127.0.0.1:{port}/rag"
    with pytest.raises(ServiceUnavailableError) as unreachable:
        PostgresLedger(url, knowledge_base="kb")
    message = unreachable.value.message
    assert f"127.0.0.1:{port}/rag" in message
    assert "RAG_DATABASE_URL" in message and "s3cret-pw" not in message


def test_a_url_that_is_not_one_is_a_configuration_error() -> None:
    with pytest.raises(ConfigError, match="RAG_DATABASE_URL is not a PostgreSQL connection URL"):
        PostgresLedger("host=db port=notaport =broken", knowledge_base="kb")


def test_knowledge_bases_sharing_a_database_see_only_their_own_documents(postgres_url: str) -> None:
    hr, it = PostgresLedger(postgres_url, "hr"), PostgresLedger(postgres_url, "it")
    try:
        hr.put(DocumentRecord("d1", "/share/a.md", "x", 1, 1, ["c1"]))
        it.put(DocumentRecord("d1", "/share/a.md", "y", 1, 1, ["c2"]))  # same id and path, other base
        it.record_failure("/share/b.pdf", "z", "broken")
        hr_record, it_record = hr.get("d1"), it.get("d1")
        assert hr_record is not None and it_record is not None
        assert (hr_record.sha256, it_record.sha256) == ("x", "y")
        assert (hr.failures(), len(it.failures())) == ([], 1)
        hr.clear()
        assert (hr.count(), it.count()) == (0, 1)
    finally:
        hr.close()
        it.close()


def test_a_schema_from_a_newer_version_is_refused_with_what_to_do(postgres_url: str) -> None:
    PostgresLedger(postgres_url, "kb").close()
    with psycopg.connect(postgres_url) as conn:
        conn.execute("UPDATE ledger_schema SET version = version + 1")
    with pytest.raises(ConfigError, match="newer private-rag"):
        PostgresLedger(postgres_url, "kb")
