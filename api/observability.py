"""Request ids in logs and headers, and Prometheus metrics on a registry of the app's own."""

from __future__ import annotations

import contextvars
import logging
import time
import uuid
from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rag.labels import printable

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
access_log = logging.getLogger("rag.access")

# Metric labels come from fixed sets: a made-up HTTP method (or, before routing, a made-up path) must
# not add a time series, or anyone could grow the server's memory without an API key.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


class Metrics:
    def __init__(self, documents_and_chunks: Callable[[], tuple[int, int]]) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "rag_http_requests_total", "HTTP requests", ["method", "route", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "rag_http_request_duration_seconds",
            "HTTP request latency",
            ["route"],
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
            registry=self.registry,
        )
        self.ingested = Counter(
            "rag_ingested_files_total", "Files ingested, by outcome", ["outcome"], registry=self.registry
        )
        self.registry.register(_SizeCollector(documents_and_chunks))


class _SizeCollector(Collector):
    def __init__(self, read: Callable[[], tuple[int, int]]) -> None:
        self._read = read

    def collect(self) -> Iterable[GaugeMetricFamily]:
        documents, chunks = self._read()
        yield GaugeMetricFamily("rag_documents", "Documents in the knowledge base", value=documents)
        yield GaugeMetricFamily("rag_chunks", "Chunks in the knowledge base", value=chunks)


class RequestContextMiddleware:
    """Assigns a request id (or keeps the caller's X-Request-ID), returns it, and records metrics."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self._app = app
        self._metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")[:64]
        request_id = incoming if incoming.replace("-", "").isalnum() else uuid.uuid4().hex
        token = request_id_var.set(request_id)
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self._app(scope, receive, send_with_id)
        finally:
            route = scope.get("route")
            label = getattr(route, "path", None) or "unmatched"
            method = scope["method"] if scope["method"] in METHODS else "other"
            elapsed = time.perf_counter() - started
            self._metrics.requests.labels(method, label, str(status)).inc()
            self._metrics.latency.labels(label).observe(elapsed)
            if access_log.isEnabledFor(logging.INFO):  # escaping the path costs a pass over it
                path = printable(scope["path"], limit=200)
                access_log.info("%s %s %d %.0f ms", method, path, status, elapsed * 1000)
            request_id_var.reset(token)


def configure_server_logging(debug: bool) -> None:
    """`rag serve`: every line carries the request id it belongs to, and every request is logged once
    (logger ``rag.access``)."""
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING, format=LOG_FORMAT, force=True)
    for handler in logging.getLogger().handlers:
        handler.addFilter(RequestIdFilter())
    for name in ("rag.access", "rag.api"):
        logging.getLogger(name).setLevel(logging.DEBUG if debug else logging.INFO)
