"""Requests to a Qdrant server that outlive a node restart: qdrant-client's errors sorted into "try again"
(5xx, 429, a dropped connection, a timeout) and "will fail again" (4xx, an answer that is not Qdrant's),
a bounded, jittered backoff, and the next node of a cluster on each new attempt.

Every request the store sends is safe to repeat: upserts carry deterministic ids, deletes and payload
updates name their points by id or filter, reads change nothing, and creating a collection that a racing
replica (or our own timed-out attempt) already created is handled by the caller.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import httpx
from qdrant_client import QdrantClient
from qdrant_client.common.client_exceptions import ResourceExhaustedResponse
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

from rag.errors import RagError, ServiceUnavailableError, StoreError

log = logging.getLogger("rag.store")

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """``attempts`` tries in all; the waits between them double from ``first_delay_s`` up to
    ``max_delay_s``, each scaled by a random factor in [0.5, 1) so replicas do not retry in lockstep."""

    attempts: int = 4
    first_delay_s: float = 0.25
    max_delay_s: float = 5.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("a retry policy needs at least one attempt")
        if self.first_delay_s < 0 or self.max_delay_s < 0:
            raise ValueError("retry delays cannot be negative")

    def delay(self, retry: int, jitter: float) -> float:
        """The wait before retry number ``retry`` (0 = the first retry); ``jitter`` is in [0, 1)."""
        return float(min(self.max_delay_s, self.first_delay_s * 2.0**retry) * (0.5 + jitter / 2))


@dataclass(frozen=True, slots=True)
class Node:
    url: str
    client: QdrantClient


class RetryingCaller:
    """Runs one request on a node of the cluster, moving to the next node and retrying on a retryable
    failure; the last failure reaches the caller as a ServiceUnavailableError (HTTP 503)."""

    def __init__(
        self,
        nodes: Sequence[Node],
        policy: RetryPolicy,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        if not nodes:
            raise ValueError("at least one Qdrant node")
        self._nodes = list(nodes)
        self._policy = policy
        self._sleep = sleep
        self._jitter = jitter
        self._current = 0  # the node that answered last; a race between threads only moves it early

    def __call__(self, request: Callable[[QdrantClient], T]) -> T:
        failure: ServiceUnavailableError | None = None
        cause: BaseException | None = None
        for attempt in range(self._policy.attempts):
            if attempt:
                self._sleep(self._policy.delay(attempt - 1, self._jitter()))
            node = self._nodes[self._current]
            try:
                return request(node.client)
            except RagError:
                raise
            except Exception as exc:
                error = translate(exc, node.url)
                if error is None:
                    raise
                if not isinstance(error, ServiceUnavailableError):
                    raise error from exc
                log.warning(
                    "Qdrant request failed (attempt %d of %d): %s", attempt + 1, self._policy.attempts, error
                )
                failure, cause = error, exc
                self._current = (self._current + 1) % len(self._nodes)
        assert failure is not None
        raise ServiceUnavailableError(
            f"{failure.message} Gave up after {self._policy.attempts} attempts "
            f"(RAG_QDRANT_RETRIES, RAG_QDRANT_RETRY_MAX_S); try again shortly."
        ) from cause

    def close(self) -> None:
        for node in self._nodes:
            node.client.close()


def translate(exc: BaseException, where: str) -> RagError | None:
    """Our error for a qdrant-client failure at ``where`` (ServiceUnavailableError if trying again may
    succeed), or None for an exception that is not a transport or server failure."""
    if isinstance(exc, ResourceExhaustedResponse):
        return ServiceUnavailableError(f"The Qdrant server at {where} is overloaded ({exc}).")
    if isinstance(exc, UnexpectedResponse):
        status = exc.status_code or 0
        detail = _server_message(exc)
        if status >= 500 or status == 429:
            return ServiceUnavailableError(f"The Qdrant server at {where} failed ({status}: {detail}).")
        return StoreError(f"The Qdrant server at {where} refused the request ({status}: {detail}).")
    if isinstance(exc, ResponseHandlingException):
        source = exc.source
        if isinstance(source, httpx.TransportError | OSError):
            return _unreachable(where, source)
        return _not_qdrant(where, source)
    if isinstance(exc, json.JSONDecodeError):  # a web page where Qdrant's JSON was expected
        return _not_qdrant(where, exc)
    if isinstance(exc, OSError) and not isinstance(exc, FileNotFoundError):
        return _unreachable(where, exc)
    return None


def _not_qdrant(where: str, exc: BaseException) -> StoreError:
    return StoreError(
        f"The server at {where} answered with something that is not a Qdrant response ({exc}): "
        "check that RAG_QDRANT_URL points at Qdrant's REST port (6333)."
    )


def _unreachable(where: str, exc: BaseException) -> ServiceUnavailableError:
    reason = str(exc) or exc.__class__.__name__
    return ServiceUnavailableError(
        f"The Qdrant server at {where} is not reachable ({reason}): start it, or unset RAG_QDRANT_URL "
        "to use the embedded store."
    )


def _server_message(exc: UnexpectedResponse) -> str:
    """Qdrant's own words (``{"status": {"error": ...}}``) rather than a dump of the raw body."""
    try:
        body = json.loads(exc.content)
        message = body["status"]["error"]
        if isinstance(message, str) and message:
            return message
    except (ValueError, KeyError, TypeError):
        pass
    text = exc.content.decode("utf-8", "replace").strip()
    return (text[:200] + "...") if len(text) > 200 else (text or exc.reason_phrase or "no details")
