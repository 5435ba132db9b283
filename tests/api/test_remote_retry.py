"""`rag search`, `rag ask` and `rag docs` through a server that fails once (a replica behind the load
balancer killed or stopping): the read is sent once more and succeeds; a second failure, or an error
that is not about a replica going away, reaches the user as before. Real HTTP on loopback."""

from __future__ import annotations

import pytest
from support.flaky_server import ANSWER_REPLY, SEARCH_REPLY, Failure, flaky_server

from api.remote import ServerClient, ServerError
from api.server_file import ServerInfo
from rag.config import Settings
from rag.errors import ServiceUnavailableError
from rag.types import SearchFilters

GOING_AWAY: list[Failure] = ["drop", 502, 503]


def client(url: str) -> ServerClient:
    settings = Settings(auth_disabled=True, _env_file=None)  # type: ignore[call-arg]
    return ServerClient(ServerInfo(url=url, pid=0, host="test", collection="documents"), settings)


@pytest.mark.parametrize("failure", GOING_AWAY)
def test_a_search_is_sent_once_more_when_the_replica_went_away(failure: Failure) -> None:
    with flaky_server(failure) as server:
        remote = client(server.url)
        hits = remote.search("a?", 5, "hybrid", SearchFilters())
    assert hits == SEARCH_REPLY["hits"]
    assert server.requests == [("POST", "/v1/search")] * 2
    assert remote.retried == 1


@pytest.mark.parametrize("failure", GOING_AWAY)
def test_documents_and_answers_are_retried_too(failure: Failure) -> None:
    with flaky_server(failure) as server:
        remote = client(server.url)
        assert [d["doc_id"] for d in remote.documents()] == ["d1"]
    with flaky_server(failure) as server:
        remote = client(server.url)
        assert remote.answer("a?").answer == ANSWER_REPLY["answer"]
    assert server.requests == [("POST", "/v1/query")] * 2


@pytest.mark.parametrize("failure", GOING_AWAY)
def test_a_streamed_answer_is_retried_before_its_first_token(failure: Failure) -> None:
    with flaky_server(failure) as server:
        remote = client(server.url)
        events = list(remote.stream("a?"))
    assert [e.kind for e in events] == ["token", "answer"]
    assert events[-1].answer is not None and events[-1].answer.answer == ANSWER_REPLY["answer"]
    assert remote.retried == 1


def test_a_second_failure_is_reported_as_before() -> None:
    lost = "Lost the connection to `rag serve` at"
    with flaky_server("drop", times=2) as server, pytest.raises(ServiceUnavailableError, match=lost):
        client(server.url).search("a?", 5, "hybrid", SearchFilters())
    assert len(server.requests) == 2  # once more, never twice more
    with flaky_server(503, times=2) as server, pytest.raises(ServerError, match="failed with 503"):
        client(server.url).search("a?", 5, "hybrid", SearchFilters())
    assert len(server.requests) == 2


def test_an_error_that_is_not_a_replica_going_away_is_not_retried() -> None:
    with flaky_server(500) as server:
        remote = client(server.url)
        with pytest.raises(ServerError, match="failed with 500"):
            remote.search("a?", 5, "hybrid", SearchFilters())
    assert len(server.requests) == 1 and remote.retried == 0
