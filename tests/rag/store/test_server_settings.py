"""The RAG_QDRANT_* cluster settings: refused with a clear message when wrong, and sent to the server
when right (asserted on the requests the real qdrant-client sends to tests/support/qdrant_rest.py; the
local mode behind it ignores them, so nothing here claims what a cluster does with them)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from qdrant_client import QdrantClient
from support.processes import free_port
from support.qdrant_rest import QdrantRestServer, qdrant_rest_server

from rag.config import Settings, load_settings
from rag.errors import ConfigError
from rag.store import open_store
from rag.store.base import SearchRequest
from rag.store.server import ClusterOptions, ServerStore
from rag.types import Chunk, SearchFilters, StoreSpec, chunk_id, document_id

SPEC = StoreSpec("test:embedder", 4)


@pytest.fixture
def server() -> Iterator[QdrantRestServer]:
    with qdrant_rest_server() as running:
        yield running


def _settings(**values: object) -> Settings:
    return load_settings(_env_file=None, embedder="sentence-transformers:unused", **values)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (
            {"qdrant_read_consistency": "sometimes"},
            "RAG_QDRANT_READ_CONSISTENCY: Value error, 'sometimes' is not",
        ),
        ({"qdrant_read_consistency": "0"}, "use majority, quorum, all, or a number of replicas (1-64)"),
        (
            {"qdrant_write_ordering": "eventual"},
            "RAG_QDRANT_WRITE_ORDERING: Input should be 'weak', 'medium'",
        ),
        (
            {"qdrant_replication_factor": 2, "qdrant_write_consistency_factor": 3},
            "RAG_QDRANT_WRITE_CONSISTENCY_FACTOR (3) cannot exceed RAG_QDRANT_REPLICATION_FACTOR (2)",
        ),
        ({"qdrant_write_consistency_factor": 2}, "cannot exceed RAG_QDRANT_REPLICATION_FACTOR (1)"),
        ({"qdrant_retries": 0}, "RAG_QDRANT_RETRIES: Input should be greater than or equal to 1"),
        ({"qdrant_shard_number": 0}, "RAG_QDRANT_SHARD_NUMBER: Input should be greater than or equal to 1"),
        ({"qdrant_timeout_s": 0}, "RAG_QDRANT_TIMEOUT_S: Input should be greater than 0"),
    ],
)
def test_wrong_cluster_settings_are_refused_saying_what_is_allowed(
    values: dict[str, object], expected: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        _settings(**values)
    assert expected in raised.value.message


def test_cluster_settings_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAG_QDRANT_URL", " http://qdrant-1:6333, http://qdrant-2:6333 ,http://qdrant-3:6333")
    monkeypatch.setenv("RAG_QDRANT_READ_CONSISTENCY", "Majority")
    monkeypatch.setenv("RAG_QDRANT_REPLICATION_FACTOR", "2")
    monkeypatch.setenv("RAG_QDRANT_WRITE_CONSISTENCY_FACTOR", "2")

    settings = _settings()

    assert settings.qdrant_urls == ["http://qdrant-1:6333", "http://qdrant-2:6333", "http://qdrant-3:6333"]
    assert settings.qdrant_read_consistency == "majority"
    assert settings.qdrant_write_ordering == "medium"  # replicas apply a delete and a re-add in one order
    assert _settings(qdrant_read_consistency="").qdrant_read_consistency is None


def test_cluster_options_refuse_values_the_server_would() -> None:
    with pytest.raises(ValueError, match="'eventual' is not a valid WriteOrdering"):
        ClusterOptions(ordering="eventual")
    with pytest.raises(ValueError, match="'some' is not a read consistency"):
        ClusterOptions(read_consistency="some")


def _chunk(index: int, access: tuple[str, ...]) -> Chunk:
    doc_id = document_id("/kb/a.txt")
    return Chunk(
        chunk_id=chunk_id(doc_id, "sha", index),
        doc_id=doc_id,
        source="/kb/a.txt",
        index=index,
        text=f"leave policy part {index}",
        title="a",
        sha256="sha",
        access=access,
    )


# The factory's clients check the server's version: the dead node has none to give.
@pytest.mark.filterwarnings("ignore:Failed to obtain server version")
def test_every_request_carries_the_configured_cluster_settings(server: QdrantRestServer) -> None:
    """Through the factory, as `rag serve` builds it: a dead first node, then the live one."""
    settings = _settings(
        qdrant_url=f"http://127.0.0.1:{free_port()},{server.url}",
        collection="kb",
        qdrant_shard_number=6,
        qdrant_replication_factor=3,
        qdrant_write_consistency_factor=2,
        qdrant_write_ordering="strong",
        qdrant_read_consistency="2",
        qdrant_retry_max_s=0,
    )
    store = open_store(settings, SPEC)
    chunks = [_chunk(0, ("group:hr",)), _chunk(1, ("group:everyone",))]
    store.upsert(chunks, [[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0]])
    store.set_access(chunks[0].doc_id, ["group:hr", "group:legal"])
    store.search(SearchRequest("leave", [1.0, 0.0, 0.0, 0.0], filters=SearchFilters(access=("group:hr",))))
    assert store.get([chunks[0].chunk_id])[0].access == ("group:hr", "group:legal")
    store.chunk_counts()
    store.delete_points([chunks[1].chunk_id])
    store.close()

    (create,) = server.sent("PUT", "/collections/kb")
    assert create.body["shard_number"] == 6
    assert create.body["replication_factor"] == 3
    assert create.body["write_consistency_factor"] == 2
    writes = [
        *server.sent("PUT", "/index"),
        *server.sent("PUT", "/points"),
        *server.sent("POST", "/points/payload"),
        *server.sent("POST", "/points/delete"),
    ]
    assert len(writes) == 4 + 1 + 1 + 1
    assert all(w.query == {"wait": "true", "ordering": "strong"} for w in writes)
    reads = [
        *server.sent("POST", "/points/query"),
        *server.sent("POST", "/kb/points"),
        *server.sent("POST", "/facet"),
    ]
    assert len(reads) == 3 and all(r.query == {"consistency": "2"} for r in reads)


def test_the_access_labels_get_a_tenant_index(server: QdrantRestServer) -> None:
    client = QdrantClient(url=server.url, check_compatibility=False)
    ServerStore(client, "kb", server.url).open(SPEC).close()

    indexes = {r.body["field_name"]: r.body["field_schema"] for r in server.sent("PUT", "/index")}

    assert indexes == {
        "doc_id": "keyword",
        "source": "keyword",
        "file_type": "keyword",
        "access": {"type": "keyword", "is_tenant": True},
    }


def test_unset_cluster_settings_leave_the_servers_defaults(server: QdrantRestServer) -> None:
    client = QdrantClient(url=server.url, check_compatibility=False)
    store = ServerStore(client, "kb", server.url).open(SPEC)
    store.search(SearchRequest("leave", [1.0, 0.0, 0.0, 0.0], mode="dense"))

    (create,) = server.sent("PUT", "/collections/kb")
    assert not {"shard_number", "replication_factor", "write_consistency_factor"} & set(create.body)
    (query,) = server.sent("POST", "/points/query")
    assert query.query == {} and query.body["params"] == {"hnsw_ef": 256}


def test_a_small_permission_filtered_search_is_exact_as_in_the_embedded_store(
    server: QdrantRestServer,
) -> None:
    """rag/store/filtered_search.py: a filter passing at most 20k points is scored exactly, from the
    server's own estimate of how many it passes."""
    client = QdrantClient(url=server.url, check_compatibility=False)
    store = ServerStore(client, "kb", server.url).open(SPEC)
    store.upsert([_chunk(0, ("group:hr",))], [[1.0, 0.0, 0.0, 0.0]])

    store.search(SearchRequest("leave", [1.0, 0.0, 0.0, 0.0], filters=SearchFilters(access=("group:hr",))))

    estimates = server.sent("POST", "/points/count")
    assert [e.body.get("exact") for e in estimates] == [False, False] and "filter" in estimates[0].body
    (query,) = server.sent("POST", "/points/query")
    assert query.body["prefetch"][0]["params"] == {"exact": True}
