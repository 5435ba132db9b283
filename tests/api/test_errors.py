"""The one status-code map: which headers tell a client what to do next."""

from __future__ import annotations

from api.errors import SERVICE_UNAVAILABLE_RETRY_AFTER_S, error_response
from rag import errors as e


def test_an_unavailable_dependency_is_503_with_a_retry_after() -> None:
    response = error_response(e.EmbedderUnavailableError("Ollama at http://ollama:11434 is not answering."))

    assert response.status_code == 503
    assert response.headers["Retry-After"] == str(SERVICE_UNAVAILABLE_RETRY_AFTER_S)
    assert b"Ollama at http://ollama:11434" in response.body


def test_too_busy_is_429_with_its_own_estimate() -> None:
    response = error_response(e.TooBusyError("Too many answers are running.", retry_after_s=12))

    assert (response.status_code, response.headers["Retry-After"]) == (429, "12")


def test_a_locked_store_is_503_without_a_retry_after() -> None:
    # Another process holds the data dir: waiting does not help, the message says what to do.
    response = error_response(e.StoreLockedError("Another rag process owns /data."))

    assert response.status_code == 503
    assert "Retry-After" not in response.headers


def test_a_write_that_lost_to_a_newer_one_is_a_conflict() -> None:
    response = error_response(e.StaleWriteError("A newer version of hr/plan.md was ingested meanwhile."))

    assert response.status_code == 409
    assert b"stale_write" in response.body
