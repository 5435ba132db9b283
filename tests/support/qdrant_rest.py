"""A Qdrant REST endpoint on a real socket, for testing what the server store sends and how it survives
failures: the store's real qdrant-client speaks HTTP to it, every request is recorded (method, path, query,
JSON body), scripted faults answer the next requests (a 503 in Qdrant's error shape, a proxy's HTML 502,
a dropped connection before or after the request was carried out, no answer until the client times
out), and everything else is answered by
qdrant-client's local mode with the response envelope a Qdrant server sends (``{"result", "status",
"time"}``; errors ``{"status": {"error"}}``).

Only the endpoints ServerStore calls are served. Local mode has no cluster: it accepts and ignores shard
number, replication, write ordering and read consistency, so tests assert on the requests, never on
cluster behaviour (tests/deploy/test_qdrant_cluster.py runs a real cluster where Docker is).
"""

from __future__ import annotations

import json
import re
import threading
import time
import warnings
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal
from urllib.parse import parse_qsl, urlsplit

from pydantic import BaseModel
from qdrant_client import QdrantClient
from qdrant_client import models as qm

FaultKind = Literal["status", "drop", "lost_answer", "hang"]
SERVER_VERSION = "1.20.0"  # what GET / reports: the version docker-compose.yml pins
_COLLECTION = re.compile(r"^/collections/(?P<name>[^/]+)(?P<rest>/.*)?$")


@dataclass(frozen=True, slots=True)
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    body: Any

    @property
    def endpoint(self) -> str:
        """``METHOD /path`` with the collection name kept, the way tests match requests."""
        return f"{self.method} {self.path}"


@dataclass(slots=True)
class Fault:
    """What the next matching request gets instead of an answer: ``status`` (the given status and body),
    ``drop`` (the connection closes before the request is carried out), ``lost_answer`` (it is carried
    out, then the connection closes: the client cannot know it was), ``hang`` (no answer at all)."""

    kind: FaultKind
    status: int = 503
    body: bytes = b""
    content_type: str = "application/json"
    match: Callable[[Recorded], bool] = field(default=lambda request: True)


def unavailable(message: str = "Service internal error: 1 out of 1 shards failed") -> Fault:
    """A 503 as Qdrant words one (its error envelope)."""
    return Fault("status", 503, _error_body(message))


def bad_gateway() -> Fault:
    """A 502 as a reverse proxy in front of a dead node words one (HTML, not Qdrant's envelope)."""
    body = (
        b"<html><body><h1>502 Bad Gateway</h1>\n"
        b"The server returned an invalid or incomplete response.\n</body></html>\n"
    )
    return Fault("status", 502, body, "text/html")


def answered(result: Any, match: Callable[[Recorded], bool]) -> Fault:
    """A 200 with this result in Qdrant's envelope, e.g. a stale answer a racing replica would get."""
    body = json.dumps({"result": result, "status": "ok", "time": 0.000_1}).encode()
    return Fault("status", 200, body, match=match)


def refused(status: int, message: str) -> Fault:
    """A 4xx in Qdrant's error envelope."""
    return Fault("status", status, _error_body(message))


def _error_body(message: str) -> bytes:
    return json.dumps({"status": {"error": message}, "time": 0.000_1}).encode()


class QdrantRestServer:
    """Listens on 127.0.0.1:<free port>; ``url`` is what RAG_QDRANT_URL would be."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self._faults: deque[Fault] = deque()
        self._lock = threading.Lock()
        self._released = threading.Event()  # lets "hang" handlers finish when the server stops
        self._local = QdrantClient(":memory:")
        handler = _handler_for(self)
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._http.daemon_threads = True
        self._thread = threading.Thread(
            target=self._http.serve_forever, args=(0.05,), name="qdrant-rest", daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._http.server_address[1]}"

    def start(self) -> QdrantRestServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._released.set()
        self._http.shutdown()
        self._http.server_close()
        self._local.close()

    def fail_next(self, *faults: Fault) -> None:
        """Queue faults: each answers the next request it matches, once."""
        with self._lock:
            self._faults.extend(faults)

    def pending_faults(self) -> int:
        with self._lock:
            return len(self._faults)

    def endpoints(self) -> list[str]:
        with self._lock:
            return [request.endpoint for request in self.requests]

    def sent(self, method: str, path_suffix: str) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.method == method and r.path.endswith(path_suffix)]

    # -- called from the handler threads ---------------------------------------------------------

    def _take_fault(self, request: Recorded) -> Fault | None:
        with self._lock:
            self.requests.append(request)
            for fault in self._faults:
                if fault.match(request):
                    self._faults.remove(fault)
                    return fault
        return None

    def _hang(self) -> None:
        self._released.wait(timeout=30)

    def _answer(self, request: Recorded) -> tuple[int, Any]:
        """(HTTP status, result) from local mode for one Qdrant REST request."""
        found = _COLLECTION.match(request.path)
        if found is None:
            return 404, f"Not found: {request.path}"
        name, rest, body, local = found["name"], found["rest"] or "", request.body or {}, self._local
        route = (request.method, rest)
        if route == ("GET", "/exists"):
            return 200, {"exists": local.collection_exists(name)}
        if route == ("PUT", ""):
            if local.collection_exists(name):
                return 409, f"Wrong input: Collection `{name}` already exists!"
            create = qm.CreateCollection.model_validate(body)
            return 200, local.create_collection(
                name,
                vectors_config=create.vectors or {},
                sparse_vectors_config=create.sparse_vectors,
                metadata=create.metadata,
            )
        if not local.collection_exists(name):
            if request.method == "DELETE":
                return 200, False
            return 404, f"Not found: Collection `{name}` doesn't exist!"
        if route == ("GET", ""):
            return 200, local.get_collection(name)
        if route == ("DELETE", ""):
            return 200, local.delete_collection(name)
        if route == ("PUT", "/index"):
            index = qm.CreateFieldIndex.model_validate(body)
            with warnings.catch_warnings():  # "payload indexes have no effect in local mode"
                warnings.simplefilter("ignore", UserWarning)
                return 200, local.create_payload_index(name, index.field_name, index.field_schema)
        if route == ("PUT", "/points"):
            points = qm.PointsList.model_validate(body)
            return 200, local.upsert(name, points.points)
        if route == ("POST", "/points/delete"):
            selector = _selector(body)
            return 200, local.delete(name, selector)
        if route == ("POST", "/points/payload"):
            payload = qm.SetPayload.model_validate(body)
            target = qm.FilterSelector(filter=payload.filter) if payload.filter else payload.points
            assert target is not None
            return 200, local.set_payload(name, payload.payload, points=target)
        if route == ("POST", "/points"):
            ask = qm.PointRequest.model_validate(body)
            return 200, local.retrieve(name, ids=ask.ids, with_payload=ask.with_payload or False)
        if route == ("POST", "/points/count"):
            count = qm.CountRequest.model_validate(body)
            return 200, local.count(name, count_filter=count.filter, exact=bool(count.exact))
        if route == ("POST", "/facet"):
            facet = qm.FacetRequest.model_validate(body)
            return 200, local.facet(
                name, facet.key, facet_filter=facet.filter, limit=facet.limit or 10, exact=bool(facet.exact)
            )
        if route == ("POST", "/points/query"):
            query = qm.QueryRequest.model_validate(body)
            return 200, local.query_points(
                name,
                query=query.query,
                using=query.using,
                prefetch=query.prefetch,
                query_filter=query.filter,
                limit=query.limit or 10,
                with_payload=query.with_payload or False,
            )
        return 404, f"Not served by this test server: {request.method} {request.path}"


def _selector(body: dict[str, Any]) -> qm.PointIdsList | qm.FilterSelector:
    if "filter" in body:
        return qm.FilterSelector.model_validate(body)
    return qm.PointIdsList.model_validate(body)


def _json_ready(result: Any) -> Any:
    if isinstance(result, BaseModel):
        return result.model_dump(mode="json", exclude_none=True)
    if isinstance(result, list):
        return [_json_ready(item) for item in result]
    return result


def _handler_for(server: QdrantRestServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as a Qdrant server does

        def log_message(self, format: str, *args: Any) -> None:  # quiet test output
            pass

        def _handle(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            request = Recorded(
                self.command, parts.path, dict(parse_qsl(parts.query)), json.loads(raw) if raw else None
            )
            fault = server._take_fault(request)
            if fault is None and (request.method, request.path) == ("GET", "/"):
                # The one answer without the envelope: qdrant-client reads the version from it.
                root = {"title": "qdrant - vector search engine", "version": SERVER_VERSION}
                self._send(200, json.dumps(root).encode(), "application/json")
                return
            if fault is not None and fault.kind == "drop":
                self.close_connection = True
                self.connection.shutdown(2)  # no status line: the client sees the connection end
                return
            if fault is not None and fault.kind == "hang":
                server._hang()
                self.close_connection = True
                return
            if fault is not None and fault.kind == "status":
                self._send(fault.status, fault.body, fault.content_type)
                return
            started = time.perf_counter()
            try:
                status, result = server._answer(request)
            except (ValueError, KeyError) as exc:  # what local mode says to a bad request
                status, result = 400, f"Wrong input: {exc}"
            elapsed = time.perf_counter() - started
            if status == 200:
                envelope = {"result": _json_ready(result), "status": "ok", "time": elapsed}
            else:
                envelope = {"status": {"error": result}, "time": elapsed}
            if fault is not None and fault.kind == "lost_answer":
                self.close_connection = True
                self.connection.shutdown(2)
                return
            self._send(status, json.dumps(envelope).encode(), "application/json")

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_PUT = do_POST = do_DELETE = do_PATCH = _handle

    return Handler


@contextmanager
def qdrant_rest_server() -> Iterator[QdrantRestServer]:
    server = QdrantRestServer().start()
    try:
        yield server
    finally:
        server.stop()
