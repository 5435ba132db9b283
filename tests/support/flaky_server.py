"""A real HTTP server on loopback that fails the first request(s) in a chosen way, then answers like
private-rag: what a client sees when a replica behind the load balancer dies or is stopping."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# How the first request(s) fail: "drop" closes the connection without a word (a SIGKILLed replica),
# "slow" answers after 1.5 s (a busy one), or an HTTP status in our error format (502: the balancer
# lost the replica mid-request; 503: none ready; 500: a bug, never retried).
Failure = str | int

SEARCH_REPLY = {
    "hits": [{"chunk_id": "c1", "doc_id": "d1", "source": "docs/a.md", "text": "A.", "score": 1.0}]
}
CITATION = {"n": 1, "source": "docs/a.md", "page": None, "section": None, "quote": "A.", "score": 1.0}
ANSWER_REPLY = {
    "question": "a?",
    "answer": "A [1].",
    "citations": [CITATION | {"doc_id": "d1", "chunk_id": "c1"}],
    "refused": False,
}


@dataclass
class Flaky:
    url: str
    failure: Failure
    failures_left: int
    requests: list[tuple[str, str]] = field(default_factory=list)  # (method, path) as received


def _reply(path: str) -> tuple[str, bytes]:
    """What our API answers for the reads the clients make (content type, body)."""
    if path.startswith("/v1/search"):
        return "application/json", json.dumps(SEARCH_REPLY).encode()
    if path.startswith("/v1/documents"):
        page = {"documents": [{"doc_id": "d1", "source": "docs/a.md", "title": "A"}], "total": 1}
        return "application/json", json.dumps(page).encode()
    if path.startswith("/v1/query"):
        return "application/json", json.dumps(ANSWER_REPLY).encode()
    return "application/json", b'{"status":"ok"}'


def _handler(flaky: Flaky, lock: threading.Lock) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as a replica behind haproxy answers

        def do_GET(self) -> None:
            self._serve(b"")

        def do_POST(self) -> None:
            self._serve(self.rfile.read(int(self.headers.get("Content-Length") or 0)))

        def _serve(self, body: bytes) -> None:
            with lock:
                flaky.requests.append((self.command, self.path))
                fail = flaky.failures_left > 0
                flaky.failures_left -= fail
            if fail and flaky.failure == "drop":
                self.close_connection = True
                self.connection.close()
                return
            if fail and flaky.failure == "slow":
                time.sleep(1.5)
            if fail and isinstance(flaky.failure, int):
                error = {"error": {"code": "unavailable", "message": f"failed with {flaky.failure}"}}
                self._send(flaky.failure, "application/json", json.dumps(error).encode())
                return
            if self.path.startswith("/v1/query") and json.loads(body or b"{}").get("stream"):
                self._send(200, "text/event-stream", _events())
                return
            self._send(200, *_reply(self.path))

        def _send(self, status: int, content_type: str, body: bytes) -> None:
            try:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except OSError:  # the client gave up waiting ("slow"), as it should
                self.close_connection = True

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


def _events() -> bytes:
    answer = json.dumps(ANSWER_REPLY)
    return f'event: token\ndata: {{"text": "A [1]."}}\n\nevent: answer\ndata: {answer}\n\n'.encode()


@contextmanager
def flaky_server(failure: Failure, times: int = 1) -> Iterator[Flaky]:
    """A server whose first ``times`` requests fail with ``failure``; the rest are answered."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    flaky = Flaky(f"http://127.0.0.1:{server.server_address[1]}", failure, times)
    server.RequestHandlerClass = _handler(flaky, threading.Lock())
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield flaky
    finally:
        server.shutdown()
        server.server_close()
