"""The `rag` command's way to a running `rag serve` (found through api.server_file): `rag search`,
`rag ask` and `rag docs` ask it over HTTP instead of opening the store and loading the embedder
themselves. What they print is the same either way.

Kept light on purpose (httpx and the core's answer types only): this module is the fast path.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import fields
from typing import Any

import httpx

from api.server_file import ServerInfo
from rag.answer import Answer, AnswerEvent
from rag.citations import Citation
from rag.config import Settings
from rag.errors import AuthenticationError, RagError, ServiceUnavailableError
from rag.generation import Message
from rag.types import SearchFilters

log = logging.getLogger("rag.remote")

_PAGE = 1000  # GET /v1/documents' largest page
# Behind a load balancer (deploy/haproxy.cfg) a request can meet a replica that was just killed or is
# stopping: the balancer answers 502/503, or the connection drops before an answer. Every request this
# client sends only reads (searches, document pages, and answers, which change nothing in the knowledge
# base), so it is sent once more after this pause, by when the balancer has taken that replica out.
# Only once: a server that is really down still says so within a second.
RETRY_DELAY_S = 0.5
_RETRY_STATUSES = frozenset({502, 503})
# Refused, or dropped before an answer came. Not a read timeout: the server may still be working on
# it, and asking again would double its load. A connect timeout never reached it.
_RETRY_ERRORS = (httpx.NetworkError, httpx.RemoteProtocolError, httpx.ConnectTimeout)


class ServerError(RagError):
    """An error the server answered with; its message is the one the command prints locally."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class ServerClient:
    """`rag search`, `rag ask` and `rag docs` over HTTP: the same results, as the CLI shapes them."""

    def __init__(self, info: ServerInfo, settings: Settings, as_user: str | None = None) -> None:
        self.info = info
        keys = settings.api_key_list()
        self._has_key = bool(keys)
        self.retried = 0  # requests sent a second time (a replica went away under them)
        headers = {"Authorization": f"Bearer {keys[0]}"} if keys else {}
        if as_user:
            headers["X-Act-As-User"] = as_user  # `--as USER`: the server narrows our admin key to USER
        self._http = httpx.Client(
            base_url=info.url,
            headers=headers,
            # The LLM may take RAG_REQUEST_TIMEOUT_S per call; the answer may wait for a slot first.
            timeout=httpx.Timeout(settings.request_timeout_s + 30, connect=5.0),
            trust_env=False,  # a proxy from the environment has no business with a local server
        )

    def close(self) -> None:
        self._http.close()

    def alive(self) -> bool:
        """Whether the server answers at all (a server stopping, or a pid now used by another program,
        does not)."""
        try:
            self._http.get("/health", timeout=2.0)
        except httpx.TransportError:
            return False
        return True

    def search(self, query: str, top_k: int, mode: str, filters: SearchFilters) -> list[dict[str, Any]]:
        body = {"query": query, "top_k": top_k, "mode": mode, "filters": _filters(filters)}
        hits: list[dict[str, Any]] = self._call("POST", "/v1/search", json=body).json()["hits"]
        return hits

    def answer(
        self,
        question: str,
        history: Sequence[Message] = (),
        filters: SearchFilters | None = None,
        *,
        fallback_to_passages: bool = False,
    ) -> Answer:
        body = _question(question, history, filters, fallback_to_passages, stream=False)
        return _answer(self._call("POST", "/v1/query", json=body).json())

    def stream(
        self,
        question: str,
        history: Sequence[Message] = (),
        filters: SearchFilters | None = None,
        *,
        fallback_to_passages: bool = False,
    ) -> Iterator[AnswerEvent]:
        body = _question(question, history, filters, fallback_to_passages, stream=True)
        with self._transport_errors(), contextlib.closing(self._open_stream(body)) as response:
            if not response.is_success:
                response.read()
                self._raise_for(response)
            event = ""
            for line in response.iter_lines():
                if line.startswith("event: "):
                    event = line[len("event: ") :]
                elif line.startswith("data: "):
                    data = json.loads(line[len("data: ") :])
                    if event == "token":
                        yield AnswerEvent("token", text=str(data["text"]))
                    elif event == "answer":
                        yield AnswerEvent("answer", answer=_answer(data))
                    elif event == "error":
                        raise ServerError(data["error"]["code"], data["error"]["message"])

    def documents(self) -> list[dict[str, Any]]:
        """As api.presentation.document_json shapes them (the API adds each document's title)."""
        return [{k: v for k, v in d.items() if k != "title"} for d in self._pages("ingested", "documents")]

    def failures(self) -> list[dict[str, Any]]:
        return self._pages("failed", "failed")

    def _pages(self, status: str, key: str) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        while True:
            params: dict[str, str | int] = {"status": status, "offset": len(rows), "limit": _PAGE}
            page = self._call("GET", "/v1/documents", params=params).json()
            rows += page[key]
            if not page[key] or len(rows) >= page["total"]:
                return rows

    def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One read, sent once more if the first try met a replica going away (see RETRY_DELAY_S)."""
        with self._transport_errors():
            try:
                response = self._http.request(method, path, **kwargs)
            except _RETRY_ERRORS as exc:
                self._pause_before_retry(f"{method} {path}", exc)
                response = self._http.request(method, path, **kwargs)
            else:
                if response.status_code in _RETRY_STATUSES:
                    self._pause_before_retry(f"{method} {path}", response)
                    response = self._http.request(method, path, **kwargs)
        self._raise_for(response)
        return response

    def _open_stream(self, body: dict[str, Any]) -> httpx.Response:
        """The streamed answer's response, retried like _call only until its status line arrives: once
        tokens have been printed, asking again would print the answer twice."""
        try:
            response = self._http.send(self._http.build_request("POST", "/v1/query", json=body), stream=True)
        except _RETRY_ERRORS as exc:
            self._pause_before_retry("POST /v1/query (stream)", exc)
        else:
            if response.status_code not in _RETRY_STATUSES:
                return response
            response.close()
            self._pause_before_retry("POST /v1/query (stream)", response)
        return self._http.send(self._http.build_request("POST", "/v1/query", json=body), stream=True)

    def _pause_before_retry(self, request: str, cause: httpx.Response | Exception) -> None:
        self.retried += 1
        why = f"HTTP {cause.status_code}" if isinstance(cause, httpx.Response) else repr(cause)
        log.debug("%s: sending it once more after %s", request, why)
        time.sleep(RETRY_DELAY_S)

    @contextlib.contextmanager
    def _transport_errors(self) -> Iterator[None]:
        try:
            yield
        except httpx.TimeoutException as exc:
            raise ServiceUnavailableError(
                f"{self.info.describe()} did not answer in time ({exc.__class__.__name__}); it may be "
                "busy. Try again, or raise RAG_REQUEST_TIMEOUT_S."
            ) from exc
        except httpx.TransportError as exc:
            raise ServiceUnavailableError(
                f"Lost the connection to {self.info.describe()} ({exc}): it may have stopped. Run the "
                "command again."
            ) from exc

    def _raise_for(self, response: httpx.Response) -> None:
        if response.is_success:
            return
        try:
            error = response.json()["error"]
            code, message = str(error["code"]), str(error["message"])
        except (ValueError, KeyError, TypeError):
            code, message = "http_error", f"{self.info.describe()} answered HTTP {response.status_code}."
        if response.status_code == 401:
            raise AuthenticationError(
                f"{self.info.describe()} requires an API key: set RAG_API_KEYS (or RAG_API_KEYS_FILE) to "
                "one of its keys for the `rag` command too."
                if not self._has_key
                else f"{self.info.describe()} does not accept the first key of RAG_API_KEYS "
                "(or RAG_API_KEYS_FILE): make it one of the server's keys."
            )
        raise ServerError(code, message)


def connect(info: ServerInfo, settings: Settings, as_user: str | None = None) -> ServerClient | None:
    """A client for the server the data dir names, or None if it does not answer (it is stopping, or
    its pid now belongs to another program): the command then runs locally."""
    client = ServerClient(info, settings, as_user)
    if client.alive():
        return client
    client.close()
    return None


def _filters(filters: SearchFilters | None) -> dict[str, list[str]] | None:
    if filters is None or filters.empty:
        return None
    return {
        "sources": list(filters.sources),
        "doc_ids": list(filters.doc_ids),
        "file_types": list(filters.file_types),
    }


def _question(
    question: str,
    history: Sequence[Message],
    filters: SearchFilters | None,
    fallback_to_passages: bool,
    stream: bool,
) -> dict[str, Any]:
    return {
        "question": question,
        "history": [m.as_dict() for m in history],
        "filters": _filters(filters),
        "passages_if_no_llm": fallback_to_passages,
        "stream": stream,
    }


def _answer(body: dict[str, Any]) -> Answer:
    """The server's answer as the object the local path returns, so both print the same."""
    citation_fields = {f.name for f in fields(Citation)}
    citations = [Citation(**{k: v for k, v in c.items() if k in citation_fields}) for c in body["citations"]]
    answer_fields = {f.name for f in fields(Answer)} - {"citations"}
    return Answer(**{k: v for k, v in body.items() if k in answer_fields}, citations=citations)
