"""Shared fixtures and helpers of the API tests: a real app over a real knowledge base.

Everything is the production path: `create_app`, the packaged MiniLM embedder, the embedded Qdrant Edge
store in a tmp data dir, and answers from the Ollama generator talking to an in-test server that speaks
Ollama's wire protocol (tests/support/ollama_server.py), whose scripted replies cite the right [n].

This is not a conftest.py on purpose: pytest imports every conftest.py outside a package as the module
`conftest`, so a second one replaces tests/conftest.py for the other test modules' `from conftest import`
(and mypy rejects the duplicate module name). Test modules import the fixtures from here, like
tests/conftest.py imports `support.fixtures`.
"""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr
from support.documents import write_pdf
from support.ollama_server import OllamaProtocolServer
from support.processes import free_port

from api.app import create_app
from rag.config import Settings
from rag.embedding.local import SentenceTransformerEmbedder
from rag.prompt import REFUSAL

if TYPE_CHECKING:
    import httpx2  # what starlette's TestClient is built on

API_KEY = "test-key-7d41c9e2"
AUTH = {"Authorization": f"Bearer {API_KEY}"}
MODEL = "qwen2.5:14b"

FLIGHTS_QUESTION = "How many days before departure must I book flights?"
FLIGHTS_SENTENCE = "Book flights at least 21 days before departure."
FLIGHTS_REPLY = "Book flights at least 21 days before departure [{n}]."
SICK_QUERY = "who do I tell when I am sick?"

Respond = Callable[[list[dict[str, Any]]], str]
Http: TypeAlias = "httpx.Client | TestClient"  # in-process (TestClient) or over the network
Response: TypeAlias = "httpx.Response | httpx2.Response"

_SOURCE_BLOCK = re.compile(r"^\[(\d+)\] [^\n]*\n(.*?)(?=\n\n\[\d+\] |\n\nQuestion: )", re.S | re.M)


# -- documents -------------------------------------------------------------------------------------


def write_docs(root: Path) -> Path:
    """Four small documents, one per parser family: markdown, HTML, plain text and a two-page PDF."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "travel.md").write_text(
        f"# Travel\n\n## Flights\n\n{FLIGHTS_SENTENCE} Economy class is the default for flights under "
        "six hours.\n",
        encoding="utf-8",
    )
    (root / "onboarding.html").write_text(
        "<html><head><title>Onboarding</title></head><body><h1>Onboarding</h1><h2>Laptops</h2>"
        "<p>New starters collect their laptop from the IT desk on the second floor on their first day.</p>"
        "</body></html>",
        encoding="utf-8",
    )
    (root / "it_faq.txt").write_text(
        "How do I reset my password?\n\nOpen the self-service portal and choose Forgot password. "
        "The reset link expires after 30 minutes.\n",
        encoding="utf-8",
    )
    write_pdf(
        root / "handbook.pdf",
        ["Welcome to the company.", "Sick leave\n\nReport sick leave to your manager before 9:00."],
    )
    return root


DOC_NAMES = ["handbook.pdf", "it_faq.txt", "onboarding.html", "travel.md"]


def upload(
    http: Http, path: Path, name: str | None = None, content: bytes | None = None, *, wait: bool = True
) -> Response:
    """POST the file; by default waiting until it is ingested (``?wait=true``), as scripts do."""
    data = path.read_bytes() if content is None else content
    params = {"wait": "true"} if wait else {}
    return http.post("/v1/documents", files={"file": (name or path.name, data)}, headers=AUTH, params=params)


# -- the model's side ------------------------------------------------------------------------------


def prompt_sources(user_content: str) -> dict[int, str]:
    """The numbered passages of an answering prompt: {n: passage text}."""
    return {int(m.group(1)): m.group(2) for m in _SOURCE_BLOCK.finditer(user_content)}


def citing(fact: str, template: str) -> Respond:
    """A model that answers with ``template``, its {n} the number of the first source stating ``fact``;
    when no source states it, the model says so, as the system prompt tells it to."""

    def respond(messages: list[dict[str, Any]]) -> str:
        sources = prompt_sources(str(messages[-1]["content"]))
        n = next((n for n, text in sources.items() if fact in text), None)
        return REFUSAL if n is None else template.format(n=n)

    return respond


def unreachable_url() -> str:
    return f"http://127.0.0.1:{free_port()}"


def chat_requests(server: OllamaProtocolServer) -> int:
    return sum(1 for r in server.requests if r.path == "/api/chat")


# -- fixtures --------------------------------------------------------------------------------------


# Fixtures are registered under a `name=` other than the function's, so test modules can import them
# without the import being shadowed (and flagged) by the test parameters that use them.


@pytest.fixture(name="docs")
def docs_fixture(tmp_path: Path) -> Path:
    return write_docs(tmp_path / "docs")


@pytest.fixture(name="api_settings")
def api_settings_fixture(settings: Settings, ollama_server: OllamaProtocolServer) -> Settings:
    """The test settings (tmp data dir, MiniLM) plus one API key and the in-test Ollama as the LLM,
    which answers the flights question citing the passage that states it."""
    ollama_server.respond = citing("21 days", FLIGHTS_REPLY)
    return settings.model_copy(
        update={
            "llm": f"ollama:{MODEL}",
            "ollama_host": ollama_server.url,
            "api_keys": SecretStr(API_KEY),
            "api_keys_file": None,
            "auth_disabled": False,
            "request_timeout_s": 10.0,
        }
    )


@pytest.fixture(name="app")
def app_fixture(api_settings: Settings, minilm: SentenceTransformerEmbedder) -> FastAPI:
    return create_app(api_settings, embedder=minilm)


@pytest.fixture(name="client")
def client_fixture(app: FastAPI) -> Iterator[TestClient]:
    """A client with the API key; the app's lifespan (store, ledger) runs for the whole test."""
    with TestClient(app, headers=AUTH) as test_client:
        yield test_client


@dataclass(frozen=True)
class Loaded:
    """A client over a knowledge base holding the four documents, and what each upload returned."""

    client: TestClient
    documents: dict[str, dict[str, Any]]  # file name -> DocumentOut JSON


@pytest.fixture(name="loaded")
def loaded_fixture(client: TestClient, docs: Path) -> Loaded:
    documents = {}
    for name in DOC_NAMES:
        response = upload(client, docs / name)
        assert response.status_code == 201, response.text
        documents[name] = response.json()["document"]
    return Loaded(client, documents)


@contextmanager
def serve(app: FastAPI) -> Iterator[str]:
    """Run ``app`` under a real uvicorn on 127.0.0.1 (a free port) in a thread; yields the base URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start (see the log above)")
            time.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()


@pytest.fixture(name="live_url")
def live_url_fixture(app: FastAPI, docs: Path) -> Iterator[str]:
    """The app under uvicorn with the four documents uploaded; yields its base URL."""
    with serve(app) as url:
        with httpx.Client(base_url=url, timeout=30) as http:
            for name in DOC_NAMES:
                response = upload(http, docs / name)
                assert response.status_code == 201, response.text
        yield url
