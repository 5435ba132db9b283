"""An in-test HTTP server that speaks Ollama's native wire protocol.

No Ollama can be installed where the tests run, so this plays the far side of
the protocol while our real client code runs unmodified against it. Shapes,
status codes and error texts follow Ollama's own source (v0.12.0, unchanged on
current main): ``server/routes.go`` for handlers and errors, ``api/types.go``
for JSON field names and ``omitempty`` rules. Only the three endpoints the
product calls are served: ``/api/embed`` (OllamaEmbedder), ``/api/chat`` and
``/api/show`` (OllamaGenerator). Only the model output is fake: embeddings come
from a hashing bag-of-words and chat replies from a callback.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import re
import socket
import socketserver
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

JSONDict = dict[str, Any]
EmbedFn = Callable[[list[str]], list[list[float]]]
RespondFn = Callable[[list[JSONDict]], str]

DEFAULT_MODELS = ["nomic-embed-text:latest", "qwen2.5:14b"]
DEFAULT_REPLY = "The answer is in the provided context."
EMBED_DIM = 64


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    body: Any  # parsed JSON; None when there was no body or it was malformed


@dataclass(frozen=True)
class _Model:
    name: str  # display form, always with a tag
    modified_ns: int
    digest: str
    size: int


class _ApiError(Exception):
    """Turns into Ollama's error shape: the status code plus {"error": msg}."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def hashing_embed(texts: list[str]) -> list[list[float]]:
    """Deterministic bag-of-words embedding: texts sharing words point the same way."""
    vectors = []
    for text in texts:
        vec = [0.0] * EMBED_DIM
        for word in re.findall(r"\w+", text.lower()):
            # blake2b, not hash(): hash() is salted per process.
            h = hashlib.blake2b(word.encode(), digest_size=8).digest()
            vec[h[0] % EMBED_DIM] += 1.0 if h[1] & 1 else -1.0
        vectors.append(_normalize(vec))
    return vectors


def _normalize(vec: list[float]) -> list[float]:
    # Same guard as Ollama's normalize(): a zero vector stays zero.
    norm = max(math.sqrt(sum(v * v for v in vec)), 1e-12)
    return [v / norm for v in vec]


def _with_tag(name: str) -> str:
    """Add Ollama's default tag; a colon before the last "/" is a host's port, not a tag."""
    return name if name.rfind(":") > name.rfind("/") else f"{name}:latest"


def _canonical(name: str) -> str:
    """Ollama's name matching: tag defaults to "latest", case-insensitive."""
    return _with_tag(name.strip().lower().removeprefix("library/"))


def _is_valid_name(name: str) -> bool:
    return bool(name.strip()) and not _canonical(name).startswith(":")


def _go_time(ns: int | None = None) -> str:
    """A timestamp as Go marshals time.Time in UTC (RFC 3339, trimmed nanoseconds)."""
    secs, nanos = divmod(time.time_ns() if ns is None else ns, 1_000_000_000)
    stamp = datetime.fromtimestamp(secs, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return stamp + f".{nanos:09d}".rstrip("0").rstrip(".") + "Z"


def _go_json(obj: Any) -> bytes:
    """Serialize like Go's encoding/json: compact and HTML-safe escapes."""
    text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
    # These characters can only occur inside strings, so plain replacement is safe.
    for char, escaped in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(char, escaped)
    return text.encode()


def _omit_zero(obj: JSONDict, *keys: str) -> JSONDict:
    """Drop zero-valued ``omitempty`` fields as Go does (e.g. the Metrics struct)."""
    return {k: v for k, v in obj.items() if k not in keys or v}


_METRICS = (
    "done_reason",
    "total_duration",
    "load_duration",
    "prompt_eval_count",
    "prompt_eval_duration",
    "eval_count",
    "eval_duration",
)

# Python's json messages mapped onto the wording of Go's json.SyntaxError.
_GO_SYNTAX_CONTEXT = {
    "Expecting value": "looking for beginning of value",
    "Expecting property name enclosed in double quotes": "looking for beginning of object key string",
    "Expecting ':' delimiter": "after object key",
    "Expecting ',' delimiter": "after object key:value pair",  # approximate inside arrays
}


def _go_json_error(doc: str, err: json.JSONDecodeError) -> str:
    """The text gin's ShouldBindJSON puts in {"error": ...} for a malformed body."""
    if err.pos >= len(doc):
        return "unexpected EOF"
    for literal in ("null", "true", "false"):  # Go reports the first wrong letter
        if err.msg == "Expecting value" and doc[err.pos] == literal[0]:
            rest = doc[err.pos : err.pos + len(literal)]
            i = next((i for i, (a, b) in enumerate(zip(rest, literal, strict=False)) if a != b), len(rest))
            if i == len(rest):
                return "unexpected EOF"
            return f"invalid character '{rest[i]}' in literal {literal} (expecting '{literal[i]}')"
    context = _GO_SYNTAX_CONTEXT.get(err.msg, "looking for beginning of value")
    return f"invalid character '{doc[err.pos]}' {context}"


def _go_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _pieces(reply: str) -> list[str]:
    """Split a reply into token-like pieces whose concatenation is exactly the reply."""
    return re.findall(r"\s*\S+|\s+$", reply)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, app: OllamaProtocolServer) -> None:
        self.app = app
        super().__init__(("127.0.0.1", 0), _Handler)

    def server_bind(self) -> None:
        # Skip HTTPServer's getfqdn() reverse lookup, which can stall without DNS.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = "127.0.0.1", self.server_address[1]


class _Handler(BaseHTTPRequestHandler):
    # HTTP/1.1 for keep-alive and chunked streaming, as Go's net/http does.
    protocol_version = "HTTP/1.1"
    server: _HTTPServer

    def do_GET(self) -> None:
        self.server.app._dispatch(self)

    do_POST = do_HEAD = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep pytest output clean

    def read_body(self) -> str:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length).decode("utf-8", errors="replace")

    def send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_json(self, status: int, obj: Any, content_type: str = "application/json; charset=utf-8") -> None:
        self.send(status, _go_json(obj), content_type)

    def start_stream(self) -> None:
        # Ollama streams with gin's c.Stream: NDJSON over chunked encoding.
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def stream_line(self, obj: Any) -> None:
        data = _go_json(obj) + b"\n"
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def end_stream(self) -> None:
        self.wfile.write(b"0\r\n\r\n")

    def abort(self) -> None:
        """Drop the connection mid-body, like a crashed server: no terminating chunk."""
        self.close_connection = True
        with contextlib.suppress(OSError):  # the client may already be gone
            self.connection.shutdown(socket.SHUT_RDWR)


class OllamaProtocolServer:
    """A real HTTP server on 127.0.0.1 implementing Ollama's native /api endpoints."""

    def __init__(
        self,
        *,
        models: Sequence[str] = DEFAULT_MODELS,
        embed: EmbedFn = hashing_embed,
        respond: RespondFn = lambda messages: DEFAULT_REPLY,
        cut_stream_after: int | None = None,
        token_delay_s: float = 0.0,
    ) -> None:
        self.embed = embed
        self.respond = respond
        self.cut_stream_after = cut_stream_after
        self.token_delay_s = token_delay_s
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._models: dict[str, _Model] = {}
        for name in models:
            self._add_model(name)
        self._get_routes: dict[str, Callable[[_Handler], None]] = {
            "/": lambda h: h.send(200, b"Ollama is running", "text/plain; charset=utf-8"),
        }
        self._post_routes: dict[str, Callable[[_Handler, JSONDict], None]] = {
            "/api/show": self._show,
            "/api/embed": self._embed,
            "/api/chat": self._chat,
        }
        self._httpd = _HTTPServer(self)
        # A short poll interval keeps close() (which waits for one poll) fast.
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.01,), daemon=True)
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"

    # -- public API --------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of all requests received so far, oldest first."""
        with self._lock:
            return list(self._requests)

    @property
    def models(self) -> list[str]:
        with self._lock:
            return [m.name for m in self._models.values()]

    def close(self) -> None:
        if self._thread.is_alive():
            self._httpd.shutdown()
            self._thread.join()
        self._httpd.server_close()

    def __enter__(self) -> OllamaProtocolServer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- plumbing ------------------------------------------------------------

    def _add_model(self, name: str) -> None:
        key = _canonical(name)
        digest = hashlib.sha256(key.encode()).hexdigest()
        with self._lock:
            self._models[key] = _Model(
                name=_with_tag(name), modified_ns=time.time_ns(), digest=digest, size=int(digest[:7], 16) * 64
            )

    def _lookup(self, name: str) -> _Model | None:
        with self._lock:
            return self._models.get(_canonical(name))

    def _dispatch(self, h: _Handler) -> None:
        path = urlsplit(h.path).path
        raw = h.read_body() if h.command == "POST" else ""
        body: Any = None
        error: _ApiError | None = None
        if h.command == "POST":
            body, error = self._parse_body(path, raw)
        with self._lock:
            self._requests.append(RecordedRequest(h.command, path, body))

        try:
            if h.command in ("GET", "HEAD") and path in self._get_routes:
                self._get_routes[path](h)
            elif h.command == "POST" and path in self._post_routes:
                if error:
                    raise error
                self._post_routes[path](h, body)
            else:
                # gin answers unknown routes and wrong methods alike with a plain 404.
                h.send(404, b"404 page not found", "text/plain")
        except _ApiError as e:
            h.send_json(e.status, {"error": e.message})
        except (BrokenPipeError, ConnectionResetError):
            h.close_connection = True  # the client went away mid-stream

    @staticmethod
    def _parse_body(path: str, raw: str) -> tuple[Any, _ApiError | None]:
        """Decode like gin's ShouldBindJSON into the endpoint's Go request struct."""
        doc = raw.strip()
        if not doc:  # Go's decoder yields io.EOF, which every handler reports this way
            return None, _ApiError(400, "missing request body")
        try:
            # raw_decode: Go's json.Decoder reads one value and ignores trailing data.
            body, _ = json.JSONDecoder().raw_decode(doc)
        except json.JSONDecodeError as e:
            return None, _ApiError(400, _go_json_error(doc, e))
        if body is None:  # JSON null leaves the Go struct zero-valued
            return {}, None
        if not isinstance(body, dict):
            go_type = {
                "/api/show": "ShowRequest",
                "/api/embed": "EmbedRequest",
                "/api/chat": "ChatRequest",
            }.get(path, "")
            msg = f"json: cannot unmarshal {_go_kind(body)} into Go value of type api.{go_type}"
            return body, _ApiError(400, msg)
        return body, None

    def _require_model(self, name: Any, not_found: str) -> _Model:
        if not isinstance(name, str) or not _is_valid_name(name):
            raise _ApiError(400, "model is required")
        model = self._lookup(name)
        if model is None:
            raise _ApiError(404, not_found)
        return model

    # -- endpoints -----------------------------------------------------------

    @staticmethod
    def _details(m: _Model) -> JSONDict:
        family = m.name.split(":")[0].split("/")[-1]
        tag = m.name.rsplit(":", 1)[1]
        size = tag.upper() if re.fullmatch(r"\d+(\.\d+)?[bm]", tag) else ""
        return {
            "parent_model": "",
            "format": "gguf",
            "family": family,
            "families": [family],
            "parameter_size": size,
            "quantization_level": "Q4_K_M",
        }

    @staticmethod
    def _is_embedding_model(m: _Model) -> bool:
        # Real Ollama reads this from the GGUF (pooling_type); a name heuristic suffices here.
        return "embed" in m.name

    def _show(self, h: _Handler, body: JSONDict) -> None:
        name = body.get("model") or body.get("name")  # "name" is the deprecated alias
        if not name:
            raise _ApiError(400, "model is required")
        m = self._require_model(name, f"model '{name}' not found")
        details = self._details(m)
        family = details["family"]
        h.send_json(
            200,
            {
                "modelfile": f'# Modelfile generated by "ollama show"\nFROM {m.name}\n',
                "parameters": "",
                "template": "{{ .Prompt }}",
                "details": details,
                "model_info": {
                    "general.architecture": family,
                    f"{family}.context_length": 8192,
                    f"{family}.embedding_length": EMBED_DIM,
                },
                "capabilities": ["embedding"] if self._is_embedding_model(m) else ["completion"],
                "modified_at": _go_time(m.modified_ns),
            },
        )

    def _embed(self, h: _Handler, body: JSONDict) -> None:
        start = time.perf_counter_ns()
        raw_input = body.get("input")
        # Validation order and messages follow EmbedHandler: input type first.
        if isinstance(raw_input, str):
            texts = [raw_input] if raw_input else []
        elif isinstance(raw_input, list) and all(isinstance(t, str) for t in raw_input):
            texts = list(raw_input)
        elif raw_input is None:
            texts = []
        else:
            raise _ApiError(400, "invalid input type")
        name = body.get("model")
        # Unknown models fall through to handleScheduleError, hence %q and this wording.
        quoted = json.dumps(name, ensure_ascii=False)
        self._require_model(name, f"model {quoted} not found, try pulling it first")
        loaded = time.perf_counter_ns()
        if not texts:  # Ollama loads the model and answers with no embeddings
            h.send_json(200, {"model": name, "embeddings": []})
            return
        try:
            vectors = self.embed(texts)
        except Exception as e:
            raise _ApiError(500, str(e)) from e
        if len(vectors) != len(texts):
            raise _ApiError(500, f"embed callback returned {len(vectors)} vectors for {len(texts)} inputs")
        dims = body.get("dimensions")
        if isinstance(dims, int) and 0 < dims < len(vectors[0]):
            vectors = [_normalize(v[:dims]) for v in vectors]
        h.send_json(
            200,
            _omit_zero(
                {
                    "model": name,
                    "embeddings": vectors,
                    "total_duration": max(time.perf_counter_ns() - start, 1),
                    "load_duration": max(loaded - start, 1),
                    "prompt_eval_count": sum(len(t.split()) for t in texts),
                },
                *_METRICS,
            ),
        )

    def _chat(self, h: _Handler, body: JSONDict) -> None:
        start = time.perf_counter_ns()
        name = body.get("model")
        messages = body.get("messages")
        messages = [] if messages is None else messages
        # gin rejects these while binding, before any model lookup.
        wrong, go_type = (
            (messages, "[]api.Message")
            if not isinstance(messages, list)
            else (next((m for m in messages if not isinstance(m, dict)), None), "api.Message")
        )
        if wrong is not None:
            raise _ApiError(
                400,
                f"json: cannot unmarshal {_go_kind(wrong)} into Go struct field "
                f"ChatRequest.messages of type {go_type}",
            )
        model = self._require_model(name, f"model '{name}' not found")
        if self._is_embedding_model(model):
            raise _ApiError(400, f"{json.dumps(name, ensure_ascii=False)} does not support chat")
        loaded = time.perf_counter_ns()

        def chunk(content: str, **extra: Any) -> JSONDict:
            return {
                "model": name,
                "created_at": _go_time(),
                "message": {"role": "assistant", "content": content},
                **extra,
            }

        if not messages:
            # An empty conversation only (un)loads the model; always a plain JSON reply.
            keep_alive = str(body.get("keep_alive"))
            reason = "unload" if re.fullmatch(r"0+(\.0*)?(ns|us|ms|s|m|h)?", keep_alive) else "load"
            h.send_json(200, chunk("", done=True, done_reason=reason))
            return

        streaming = body.get("stream") is not False  # Ollama streams unless told not to
        try:
            reply = self.respond(messages)
        except Exception as e:
            if not streaming:
                raise _ApiError(500, str(e)) from e
            # Mid-generation failures arrive as an {"error"} line in a 200 stream.
            h.start_stream()
            h.stream_line({"error": str(e)})
            h.end_stream()
            return

        pieces = _pieces(reply)
        prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in messages)

        def final(content: str) -> JSONDict:
            now = time.perf_counter_ns()
            # Ollama omits zero metrics, so keep each one at least 1ns / 1 token.
            return _omit_zero(
                chunk(
                    content,
                    done=True,
                    done_reason="stop",
                    total_duration=max(now - start, 1),
                    load_duration=max(loaded - start, 1),
                    prompt_eval_count=max(prompt_tokens, 1),
                    prompt_eval_duration=max(loaded - start, 1),
                    eval_count=max(len(pieces), 1),
                    eval_duration=max(now - loaded, 1),
                ),
                *_METRICS,
            )

        if not streaming:
            time.sleep(self.token_delay_s * len(pieces))
            h.send_json(200, final(reply))
            return

        h.start_stream()
        for i, piece in enumerate(pieces):
            if self.cut_stream_after is not None and i >= self.cut_stream_after:
                break
            time.sleep(self.token_delay_s)
            h.stream_line(chunk(piece, done=False))
        if self.cut_stream_after is not None:
            h.abort()
            return
        h.stream_line(final(""))
        h.end_stream()
