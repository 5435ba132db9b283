"""The server store over real HTTP when the Qdrant server misbehaves: 5xx, 502 from a proxy, dropped
connections, lost answers, timeouts and refused connections are retried with bounded backoff (on the next
node when several are given) and end as a 503-mapped ServiceUnavailableError; 4xx answers are StoreErrors
at once; a collection a racing replica created first is opened, not an error.

The server is tests/support/qdrant_rest.py (qdrant-client's local mode behind Qdrant's REST endpoints and
envelope); the waits between attempts are recorded instead of slept, so no test depends on time, except
the timeout test, which waits the client's 1 s timeout once."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pytest
from qdrant_client import QdrantClient
from support.chunks import make_chunk
from support.processes import free_port
from support.qdrant_rest import (
    Fault,
    QdrantRestServer,
    Recorded,
    answered,
    bad_gateway,
    qdrant_rest_server,
    refused,
    unavailable,
)

from api.errors import status_for
from rag.errors import ServiceUnavailableError, StoreError, StoreMismatchError
from rag.store.base import SearchRequest
from rag.store.server import ServerStore
from rag.store.server_retry import RetryPolicy
from rag.types import Chunk, SearchFilters, StoreSpec

SPEC = StoreSpec("test:embedder", 4)
POLICY = RetryPolicy(attempts=4, first_delay_s=0.25, max_delay_s=1.0)


@pytest.fixture
def server() -> Iterator[QdrantRestServer]:
    with qdrant_rest_server() as running:
        yield running


class Waits(list[float]):
    """Stands in for time.sleep: records each wait the store asked for."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def _store(urls: list[str], waits: Waits, policy: RetryPolicy = POLICY, timeout: int = 10) -> ServerStore:
    clients = [QdrantClient(url=url, timeout=timeout, check_compatibility=False) for url in urls]
    return ServerStore(clients, "kb", ",".join(urls), retry=policy, sleep=waits)


def _chunk(source: str, index: int, text: str, access: tuple[str, ...] = ("group:everyone",)) -> Chunk:
    return make_chunk(source, index, text, access=access)


LEAVE = _chunk("/kb/handbook.pdf", 0, "Parental leave policy: 16 weeks at full pay.", ("group:hr",))
HOURS = _chunk("/kb/handbook.pdf", 1, "Office hours policy: 9 to 17 on weekdays.")


def _ingested(store: ServerStore) -> ServerStore:
    store.open(SPEC).upsert([LEAVE, HOURS], [[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0]])
    return store


def _on(method: str, suffix: str) -> Callable[[Recorded], bool]:
    return lambda request: request.method == method and request.path.endswith(suffix)


def _upserts(server: QdrantRestServer) -> list[Recorded]:
    return server.sent("PUT", "/collections/kb/points")


def test_a_503_and_a_proxys_502_are_retried_and_the_write_lands(server: QdrantRestServer) -> None:
    waits = Waits()
    store = _store([server.url], waits).open(SPEC)
    server.fail_next(unavailable(), bad_gateway())

    store.upsert([LEAVE, HOURS], [[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0]])

    assert len(_upserts(server)) == 3 and server.pending_faults() == 0
    assert store.count() == 2
    assert len(waits) == 2 and all(0 < wait <= POLICY.max_delay_s for wait in waits)


def test_a_dropped_connection_and_a_timeout_are_retried(server: QdrantRestServer) -> None:
    waits = Waits()
    store = _ingested(_store([server.url], waits, timeout=1))
    query = _on("POST", "/points/query")
    server.fail_next(Fault("drop", match=query), Fault("hang", match=query))

    hits = store.search(SearchRequest("leave", [1.0, 0.0, 0.0, 0.0], mode="dense"))

    assert hits and hits[0].chunk.chunk_id == LEAVE.chunk_id
    assert len(server.sent("POST", "/points/query")) == 3 and len(waits) == 2


def test_a_write_whose_answer_was_lost_is_repeated_without_duplicating_chunks(
    server: QdrantRestServer,
) -> None:
    store = _store([server.url], Waits()).open(SPEC)
    server.fail_next(Fault("lost_answer", match=_on("PUT", "/collections/kb/points")))

    store.upsert([LEAVE, HOURS], [[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0]])

    assert len(_upserts(server)) == 2  # carried out twice: deterministic ids make it one write
    assert store.count() == 2 and store.chunk_counts() == {LEAVE.doc_id: 2}


def test_a_server_that_keeps_failing_ends_in_a_503_after_the_configured_attempts(
    server: QdrantRestServer,
) -> None:
    waits = Waits()
    policy = RetryPolicy(attempts=3, first_delay_s=0.25, max_delay_s=0.3)
    store = _ingested(_store([server.url], waits, policy))
    server.fail_next(*(unavailable() for _ in range(3)))

    with pytest.raises(ServiceUnavailableError) as raised:
        store.get([LEAVE.chunk_id])

    assert len(server.sent("POST", "/collections/kb/points")) == 3
    assert len(waits) == 2 and all(wait <= 0.3 for wait in waits)  # capped by the ceiling
    message = raised.value.message
    assert server.url in message and "1 out of 1 shards failed" in message
    assert "3 attempts" in message and "RAG_QDRANT_RETRIES" in message
    assert status_for(raised.value) == 503
    assert store.get([LEAVE.chunk_id]) == [LEAVE]  # the next call, with the server back, succeeds


def test_a_4xx_is_a_store_error_in_qdrants_words_and_never_retried(server: QdrantRestServer) -> None:
    waits = Waits()
    store = _store([server.url], waits).open(SPEC)
    server.fail_next(refused(400, "Wrong input: Vector dimension error: expected dim: 4, got 3"))

    with pytest.raises(StoreError) as raised:
        store.upsert([LEAVE], [[1.0, 0.0, 0.0, 0.0]])

    assert not isinstance(raised.value, ServiceUnavailableError)
    assert "400: Wrong input: Vector dimension error" in raised.value.message
    assert "Raw response" not in raised.value.message
    assert len(_upserts(server)) == 1 and waits == []


def test_nothing_listening_is_a_service_unavailable_naming_the_url() -> None:
    waits = Waits()
    closed = f"http://127.0.0.1:{free_port()}"

    with pytest.raises(ServiceUnavailableError) as raised:
        _store([closed], waits).open(SPEC)

    assert closed in raised.value.message and "not reachable" in raised.value.message
    assert len(waits) == POLICY.attempts - 1


def test_a_request_moves_to_the_next_node_when_one_is_down(server: QdrantRestServer) -> None:
    waits = Waits()
    closed = f"http://127.0.0.1:{free_port()}"
    store = _ingested(_store([closed, server.url], waits))

    assert store.count() == 2
    assert len(waits) == 1  # one failed attempt on the dead node, then every request on the live one


def test_a_collection_a_racing_replica_created_first_is_opened(server: QdrantRestServer) -> None:
    _ingested(_store([server.url], Waits()))
    # The second replica asked before the first one's collection existed; its create then finds it made.
    server.fail_next(answered({"exists": False}, _on("GET", "/collections/kb/exists")))

    store = _store([server.url], Waits()).open(SPEC)

    assert len(server.sent("PUT", "/collections/kb")) == 2  # the second was answered 409, already exists
    assert store.spec == SPEC and store.count() == 2


def test_a_racing_replica_with_another_embedder_is_still_a_mismatch(server: QdrantRestServer) -> None:
    _ingested(_store([server.url], Waits()))
    server.fail_next(answered({"exists": False}, _on("GET", "/collections/kb/exists")))

    with pytest.raises(StoreMismatchError):
        _store([server.url], Waits()).open(StoreSpec("other:embedder", 4))


def test_the_retries_reach_a_permission_filtered_search(server: QdrantRestServer) -> None:
    store = _ingested(_store([server.url], Waits()))
    server.fail_next(unavailable(), unavailable())

    hits = store.search(
        SearchRequest("leave policy", [1.0, 0.0, 0.0, 0.0], filters=SearchFilters(access=("group:hr",)))
    )

    assert [hit.chunk.chunk_id for hit in hits] == [LEAVE.chunk_id]
    query = server.sent("POST", "/points/query")[-1].body
    assert json.dumps(query["filter"]) == json.dumps(
        {"must": [{"key": "access", "match": {"any": ["group:hr"]}}]}
    )


def test_something_other_than_qdrant_answering_is_a_store_error_naming_the_port(
    server: QdrantRestServer,
) -> None:
    waits = Waits()
    page = Fault("status", 200, b"<html><body>Welcome</body></html>", "text/html")
    server.fail_next(page)

    with pytest.raises(StoreError) as raised:
        _store([server.url], waits).open(SPEC)

    assert not isinstance(raised.value, ServiceUnavailableError)
    assert "not a Qdrant response" in raised.value.message and "6333" in raised.value.message
    assert waits == []
