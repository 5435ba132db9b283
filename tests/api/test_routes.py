"""The REST API end to end: auth, documents, search, answers (plain and streamed), limits, operations.

Real app, real MiniLM embedder, real embedded Qdrant Edge store; answers come from the Ollama generator
talking to an in-test server that speaks Ollama's wire protocol."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from api_support import (  # noqa: F401  (fixtures)
    API_KEY,
    AUTH,
    DOC_NAMES,
    FLIGHTS_QUESTION,
    FLIGHTS_SENTENCE,
    MODEL,
    SICK_QUERY,
    Http,
    Loaded,
    Response,
    api_settings_fixture,
    app_fixture,
    chat_requests,
    citing,
    client_fixture,
    docs_fixture,
    loaded_fixture,
    serve,
    unreachable_url,
    upload,
)
from click.testing import CliRunner
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from starlette.routing import Route
from support.ollama_server import OllamaProtocolServer

from api.app import create_app
from api.cli import cli
from api.presentation import hit_json
from api.services import Services
from rag.config import Settings
from rag.embedding.local import SentenceTransformerEmbedder
from rag.errors import ConfigError, DocumentError
from rag.prompt import REFUSAL
from rag.types import document_id

# Every route but /health, as (method, path); a route added later must be added here (test below).
PROTECTED = {
    ("GET", "/ready"),
    ("GET", "/metrics"),
    ("GET", "/openapi.json"),
    ("GET", "/docs"),
    ("GET", "/docs/oauth2-redirect"),
    ("GET", "/redoc"),
    ("POST", "/v1/query"),
    ("POST", "/v1/search"),
    ("GET", "/v1/documents"),
    ("POST", "/v1/documents"),
    ("GET", "/v1/documents/{doc_id}"),
    ("DELETE", "/v1/documents/{doc_id}"),
    ("GET", "/v1/jobs/{job_id}"),
    ("GET", "/v1/models"),
    ("POST", "/v1/chat/completions"),
}
MISSING_KEY = {
    "error": {"code": "unauthorized", "message": "Missing API key: send `Authorization: Bearer <key>`."}
}
INVALID_KEY = {"error": {"code": "unauthorized", "message": "Invalid API key."}}
REQUEST_ID = re.compile(r"^[0-9a-f]{32}$")


def services(client: TestClient) -> Services:
    app: Any = client.app
    return app.state.services  # type: ignore[no-any-return]


def uploads_dir(client: TestClient) -> Path:
    return services(client).settings.uploads_dir.resolve()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def ask(http: Http, question: str = FLIGHTS_QUESTION, **extra: Any) -> Response:
    return http.post("/v1/query", json={"question": question, **extra}, headers=AUTH)


def parse_sse(text: str) -> list[tuple[str, Any]]:
    events = []
    for block in text.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((fields["event"], json.loads(fields["data"])))
    return events


def samples(metrics_text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(metrics_text)
        for s in family.samples
    }


# -- authentication --------------------------------------------------------------------------------


def test_protected_routes_are_every_route_but_health(app: FastAPI) -> None:
    documented = {(m.upper(), path) for path, ops in app.openapi()["paths"].items() for m in ops}
    builtin = {(m, r.path) for r in app.routes if isinstance(r, Route) for m in r.methods or ()} - {
        ("HEAD", r.path) for r in app.routes if isinstance(r, Route)
    }
    assert builtin == {("GET", p) for p in ("/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc")}
    assert documented | builtin == PROTECTED | {("GET", "/health")}


def test_health_is_open_and_every_other_route_needs_a_key(app: FastAPI) -> None:
    with TestClient(app) as anonymous:
        health = anonymous.get("/health")
        assert (health.status_code, health.json()) == (200, {"status": "ok"})
        for headers, expected in (
            ({}, MISSING_KEY),
            ({"Authorization": "Bearer not-the-key"}, INVALID_KEY),
            ({"Authorization": f"Basic {API_KEY}"}, INVALID_KEY),  # the right key, the wrong scheme
            ({"Authorization": f"Bearer {API_KEY}x"}, INVALID_KEY),
        ):
            seen = {}
            for method, path in sorted(PROTECTED):
                response = anonymous.request(method, path.replace("{doc_id}", "x"), headers=headers)
                seen[method, path] = (
                    response.status_code,
                    response.json(),
                    response.headers.get("www-authenticate"),
                )
            assert seen == {route: (401, expected, "Bearer") for route in PROTECTED}, headers


def test_the_key_opens_the_docs_and_the_schema_documents_bearer_auth(client: TestClient) -> None:
    docs_page = client.get("/docs")
    assert docs_page.status_code == 200
    assert "swagger-ui" in docs_page.text
    schema = client.get("/openapi.json").json()
    assert schema["security"] == [{"bearer": []}]
    assert schema["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


def test_keys_come_from_the_comma_list_and_the_keys_file(
    settings: Settings, minilm: SentenceTransformerEmbedder, tmp_path: Path
) -> None:
    keys_file = tmp_path / "keys.txt"
    keys_file.write_text("# team keys\ngamma-key\n\n  delta-key  \n", encoding="utf-8")
    configured = settings.model_copy(
        update={"api_keys": SecretStr("alpha-key, beta-key,"), "api_keys_file": keys_file, "llm": "none"}
    )
    with TestClient(create_app(configured, embedder=minilm), base_url="http://localhost") as http:
        status = {
            key: http.get("/v1/models", headers={"Authorization": f"Bearer {key}"}).status_code
            for key in ("alpha-key", "beta-key", "gamma-key", "delta-key", "# team keys", "", "alpha-key,")
        }
    assert status == {
        "alpha-key": 200,
        "beta-key": 200,
        "gamma-key": 200,
        "delta-key": 200,
        "# team keys": 401,
        "": 401,
        "alpha-key,": 401,
    }


def test_keys_file_alone_is_enough(
    settings: Settings, minilm: SentenceTransformerEmbedder, tmp_path: Path
) -> None:
    keys_file = tmp_path / "keys.txt"
    keys_file.write_text("only-key\n", encoding="utf-8")
    configured = settings.model_copy(update={"api_keys": None, "api_keys_file": keys_file, "llm": "none"})
    with TestClient(create_app(configured, embedder=minilm), base_url="http://localhost") as http:
        assert http.get("/v1/models", headers={"Authorization": "Bearer only-key"}).status_code == 200
        assert http.get("/v1/models", headers=AUTH).status_code == 401


def test_an_unreadable_keys_file_is_a_config_error(settings: Settings, tmp_path: Path) -> None:
    missing = tmp_path / "nope.txt"
    with pytest.raises(ConfigError) as err:
        create_app(settings.model_copy(update={"api_keys": None, "api_keys_file": missing}))
    assert err.value.message.startswith(f"Cannot read RAG_API_KEYS_FILE {missing}: ")


def test_no_keys_and_auth_not_disabled_refuses_to_build_the_app(settings: Settings) -> None:
    with pytest.raises(ConfigError) as err:
        create_app(
            settings.model_copy(update={"api_keys": None, "api_keys_file": None, "auth_disabled": False})
        )
    assert err.value.message == (
        "No API keys configured: set RAG_API_KEYS (comma-separated) or RAG_API_KEYS_FILE, or "
        "RAG_AUTH_DISABLED=true for local use on 127.0.0.1."
    )


def test_auth_disabled_serves_without_a_key(settings: Settings, minilm: SentenceTransformerEmbedder) -> None:
    configured = settings.model_copy(update={"api_keys": None, "auth_disabled": True, "llm": "none"})
    with TestClient(create_app(configured, embedder=minilm), base_url="http://localhost") as http:
        models = http.get("/v1/models")
        assert models.status_code == 200
        assert [m["id"] for m in models.json()["data"]] == ["private-rag"]
        assert "security" not in http.get("/openapi.json").json()


@pytest.fixture
def no_uvicorn(monkeypatch: pytest.MonkeyPatch) -> None:
    """`rag serve` must stop before it serves; if it did not, fail instead of serving forever."""

    def run(*args: object, **kwargs: object) -> None:
        raise AssertionError("uvicorn.run was called")

    monkeypatch.setattr(uvicorn, "run", run)


def test_serve_refuses_a_network_address_with_auth_disabled(rag_env: Path, no_uvicorn: None) -> None:
    result = CliRunner().invoke(cli, ["serve", "--host", "0.0.0.0"], env={"RAG_AUTH_DISABLED": "true"})
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (
        "error: Refusing to serve on 0.0.0.0 with RAG_AUTH_DISABLED=true: anyone on the network could read "
        "your documents. Set RAG_API_KEYS, or listen on 127.0.0.1.\n"
    )


def test_serve_without_keys_exits_with_the_reason(rag_env: Path, no_uvicorn: None) -> None:
    result = CliRunner().invoke(cli, ["serve"])
    assert result.exit_code == 1
    assert result.stderr.startswith("error: No API keys configured: set RAG_API_KEYS")


# -- documents -------------------------------------------------------------------------------------


def test_upload_list_get_and_reupload(loaded: Loaded, docs: Path) -> None:
    client = loaded.client
    uploads = uploads_dir(client)
    travel = loaded.documents["travel.md"]
    source = str(uploads / "travel.md")
    assert {k: v for k, v in travel.items() if k != "ingested_at"} == {
        "doc_id": document_id(source),
        "source": source,
        "hash": sha256((docs / "travel.md").read_bytes()),
        "chunks": 1,
        "file_type": "md",
        "title": "travel",
    }
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", travel["ingested_at"])
    assert (uploads / "travel.md").read_bytes() == (docs / "travel.md").read_bytes()
    assert sorted(p.name for p in uploads.iterdir()) == DOC_NAMES  # no partial files left behind
    assert loaded.documents["handbook.pdf"]["chunks"] == 2
    assert {n: d["file_type"] for n, d in loaded.documents.items()} == {
        "handbook.pdf": "pdf",
        "it_faq.txt": "txt",
        "onboarding.html": "html",
        "travel.md": "md",
    }

    listing = client.get("/v1/documents")
    assert listing.status_code == 200
    assert listing.json() == {
        "documents": [loaded.documents[name] for name in DOC_NAMES],
        "failed": [],
        "total": 4,
        "offset": 0,
        "limit": 100,
        "next_cursor": None,
    }
    page = client.get("/v1/documents", params={"offset": 1, "limit": 2}).json()
    assert [Path(d["source"]).name for d in page["documents"]] == ["it_faq.txt", "onboarding.html"]
    assert (page["total"], page["offset"], page["limit"]) == (4, 1, 2)
    beyond = client.get("/v1/documents", params={"offset": 4}).json()
    assert (beyond["documents"], beyond["total"]) == ([], 4)
    # Cursor paging: each page seeks past the last source of the one before.
    walked, cursor = [], None
    while True:
        params: dict[str, Any] = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        body = client.get("/v1/documents", params=params).json()
        walked += [d["doc_id"] for d in body["documents"]]
        if (cursor := body["next_cursor"]) is None:
            break
    assert walked == [loaded.documents[name]["doc_id"] for name in DOC_NAMES]

    one = client.get(f"/v1/documents/{travel['doc_id']}")
    assert (one.status_code, one.json()) == (200, travel)

    again = upload(client, docs / "travel.md")
    assert again.status_code == 200
    assert again.json() == {"outcome": "unchanged", "document": travel}

    changed = upload(client, docs / "travel.md", content=b"# Travel\n\nTrains are booked by the office.\n")
    assert changed.status_code == 201
    assert changed.json()["outcome"] == "updated"
    assert changed.json()["document"]["doc_id"] == travel["doc_id"]
    assert changed.json()["document"]["hash"] == sha256(b"# Travel\n\nTrains are booked by the office.\n")
    assert client.get("/v1/documents").json()["total"] == 4


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"limit": 0}, "query.limit: Input should be greater than or equal to 1"),
        ({"offset": -1}, "query.offset: Input should be greater than or equal to 0"),
        ({"status": "broken"}, "query.status: Input should be 'ingested' or 'failed'"),
    ],
)
def test_bad_listing_parameters_are_422(client: TestClient, params: dict[str, Any], message: str) -> None:
    response = client.get("/v1/documents", params=params)
    assert (response.status_code, response.json()) == (
        422,
        {"error": {"code": "invalid_request", "message": message}},
    )


@pytest.mark.parametrize("raw", [b"\xff\xfe", b"/docs/a\x00b.md"], ids=["not utf-8", "nul"])
def test_a_cursor_the_server_did_not_give_is_a_clear_422(client: TestClient, raw: bytes) -> None:
    for cursor in ("not base64!", base64.urlsafe_b64encode(raw).decode()):
        response = client.get("/v1/documents", params={"cursor": cursor})
        assert response.status_code == 422, response.text
        assert "next_cursor" in response.json()["error"]["message"]


def test_a_huge_listing_offset_is_not_a_server_error(app: FastAPI) -> None:
    with TestClient(app, headers=AUTH, raise_server_exceptions=False) as http:
        response = http.get("/v1/documents", params={"offset": 2**63})
    assert response.status_code != 500, response.json()  # today: 500 internal_error
    if response.status_code == 200:  # past the end: an empty page
        assert (response.json()["documents"], response.json()["total"]) == ([], 0)
    else:
        assert (response.status_code, response.json()["error"]["code"]) == (422, "invalid_request")


def test_answer_cites_the_upload_until_it_is_deleted(
    loaded: Loaded, docs: Path, ollama_server: OllamaProtocolServer
) -> None:
    client = loaded.client
    travel = loaded.documents["travel.md"]
    response = ask(client)
    assert response.status_code == 200
    body = response.json()
    (citation,) = body["citations"]
    assert body["answer"] == f"Book flights at least 21 days before departure [{citation['n']}]."
    assert (body["refused"], body["grounded"], body["extractive"], body["model"]) == (
        False,
        True,
        False,
        f"ollama:{MODEL}",
    )
    assert citation["source"].endswith("/uploads/travel.md")
    assert (citation["doc_id"], citation["page"], citation["section"]) == (
        travel["doc_id"],
        None,
        "Travel > Flights",
    )
    assert citation["quote"] == FLIGHTS_SENTENCE
    assert citation["quote"] in (docs / "travel.md").read_text(encoding="utf-8")

    deleted = client.delete(f"/v1/documents/{travel['doc_id']}")
    assert (deleted.status_code, deleted.json()) == (
        200,
        {"deleted": travel["doc_id"], "source": travel["source"], "chunks": 1},
    )
    assert not Path(travel["source"]).exists()  # our copy of the upload is gone too
    gone = client.get(f"/v1/documents/{travel['doc_id']}")
    assert (gone.status_code, gone.json()["error"]["code"]) == (404, "not_found")
    assert client.delete(f"/v1/documents/{travel['doc_id']}").status_code == 404
    assert client.get("/v1/documents").json()["total"] == 3

    after = ask(client).json()
    assert (after["answer"], after["refused"], after["citations"]) == (REFUSAL, True, [])
    assert all(Path(h["source"]).name != "travel.md" for h in client.post(
        "/v1/search", json={"query": FLIGHTS_QUESTION, "top_k": 10}
    ).json()["hits"])  # fmt: skip


def test_unknown_document_is_404(client: TestClient) -> None:
    for method in ("GET", "DELETE"):
        response = client.request(method, "/v1/documents/no-such-id")
        assert (response.status_code, response.json()) == (
            404,
            {
                "error": {
                    "code": "not_found",
                    "message": "No document with id 'no-such-id': GET /v1/documents lists them.",
                }
            },
        )


def test_upload_name_is_sanitised_into_the_uploads_dir(
    client: TestClient, tmp_path: Path, ollama_server: OllamaProtocolServer
) -> None:
    content = b"# Accounts\n\nThe account named root is the superuser account on every server.\n"
    response = upload(client, tmp_path / "unused", name="../../etc/passwd.md", content=content)
    assert response.status_code == 201, response.text
    uploads = uploads_dir(client)
    assert response.json()["document"]["source"] == str(uploads / "passwd.md")
    assert (uploads / "passwd.md").read_bytes() == content
    assert [p.relative_to(tmp_path) for p in tmp_path.rglob("passwd.md")] == [
        (uploads / "passwd.md").relative_to(tmp_path.resolve())
    ]
    assert not (tmp_path / "etc").exists() and not (tmp_path / "data" / "etc").exists()

    windows = upload(client, tmp_path / "unused", name="..\\..\\Windows\\a<b>:c.txt", content=b"plain words")
    assert windows.status_code == 201
    assert windows.json()["document"]["source"] == str(uploads / "a_b_c.txt")
    assert sorted(p.name for p in uploads.iterdir()) == ["a_b_c.txt", "passwd.md"]

    ollama_server.respond = citing("superuser", "The root account is the superuser [{n}].")
    answer = ask(client, "Which account is the superuser on our servers?").json()
    (citation,) = answer["citations"]
    assert citation["source"] == str(uploads / "passwd.md")
    assert citation["quote"] == "The account named root is the superuser account on every server."


def test_upload_over_the_size_limit_is_413_and_leaves_nothing(
    api_settings: Settings, minilm: SentenceTransformerEmbedder, tmp_path: Path
) -> None:
    app = create_app(api_settings.model_copy(update={"max_upload_mb": 1}), embedder=minilm)
    with TestClient(app, headers=AUTH) as http:
        too_big = upload(http, tmp_path / "unused", name="big.txt", content=b"a" * (1024 * 1024 + 1))
        assert (too_big.status_code, too_big.json()) == (
            413,
            {
                "error": {
                    "code": "payload_too_large",
                    "message": "The file is larger than 1 MB (RAG_MAX_UPLOAD_MB).",
                }
            },
        )
        assert list(uploads_dir(http).iterdir()) == []
        assert http.get("/v1/documents").json()["total"] == 0


def test_unsupported_type_is_415(client: TestClient, tmp_path: Path) -> None:
    response = upload(client, tmp_path / "unused", name="setup.exe", content=b"MZ\x90\x00")
    assert response.status_code == 415
    assert response.json() == {
        "error": {
            "code": "unsupported_file_type",
            "message": "Files of type '.exe' are not supported: .csv, .docx, .eml, .htm, .html, .jpeg, .jpg, "
            ".markdown, .md, .pdf, .png, .pptx, .text, .tif, .tiff, .tsv, .txt, .xlsx.",
        }
    }
    assert not uploads_dir(client).exists() or list(uploads_dir(client).iterdir()) == []


def _good_docx(path: Path) -> None:
    import docx

    document = docx.Document()
    document.add_heading("Parking", level=1)
    document.add_paragraph("Visitors park in bay 12 behind the north entrance.")
    document.save(str(path))


@pytest.mark.parametrize(
    ("name", "bad", "message", "query", "fact"),
    [
        (
            "handbook.pdf",
            b"%PDF-1.7\n" + bytes(range(256)) * 20,
            "The PDF is damaged and cannot be read: ",
            SICK_QUERY,
            "Report sick leave to your manager before 9:00.",
        ),
        (
            "parking.docx",
            bytes(range(256)) * 10,
            "This is not a valid Word (.docx) file: it is not an Office Open XML package. Was it renamed "
            "from another format? Save it again from its application.",
            "where do visitors park?",
            "Visitors park in bay 12 behind the north entrance.",
        ),
    ],
)
def test_unreadable_upload_is_422_and_keeps_the_good_file_of_that_name(
    loaded: Loaded, docs: Path, name: str, bad: bytes, message: str, query: str, fact: str
) -> None:
    client = loaded.client
    if name == "parking.docx":
        _good_docx(docs / name)
        assert upload(client, docs / name).status_code == 201
    good = client.get("/v1/documents").json()["documents"]
    before = next(d for d in good if d["source"].endswith(f"/{name}"))

    response = upload(client, docs / name, content=bad)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "document_error"
    assert error["message"].startswith(message) if message.endswith(": ") else error["message"] == message

    uploads = uploads_dir(client)
    assert (uploads / name).read_bytes() == (docs / name).read_bytes()
    assert not [p.name for p in uploads.iterdir() if p.name.startswith(".")]  # no partial file left
    assert client.get(f"/v1/documents/{before['doc_id']}").json() == before
    hits = client.post("/v1/search", json={"query": query, "top_k": 1}).json()["hits"]
    assert (hits[0]["source"], hits[0]["doc_id"]) == (str(uploads / name), before["doc_id"])
    assert fact in hits[0]["text"]


def wait_for_job(http: Http, job_id: str, timeout_s: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        job: dict[str, Any] = http.get(f"/v1/jobs/{job_id}", headers=AUTH).json()
        if job["status"] in ("done", "failed"):
            return job
        assert time.monotonic() < deadline, job
        time.sleep(0.1)


def test_an_upload_is_answered_at_once_and_its_job_ends_in_the_document(
    client: TestClient, tmp_path: Path
) -> None:
    page = tmp_path / "parking.md"
    page.write_text("# Parking\n\nVisitors park in bay 12 behind the north entrance.\n")
    accepted = upload(client, page, wait=False)
    assert accepted.status_code == 202
    job = accepted.json()
    assert accepted.headers["Location"] == f"/v1/jobs/{job['id']}"
    assert (job["file"], job["document"]) == ("parking.md", None)
    assert job["status"] in ("queued", "running")

    done = wait_for_job(client, job["id"])
    assert (done["status"], done["outcome"], done["error"]) == ("done", "added", None)
    assert done["document"]["source"] == str(uploads_dir(client) / "parking.md")
    assert done["created_at"] <= done["finished_at"]
    assert client.get(f"/v1/documents/{done['document']['doc_id']}").json() == done["document"]
    hits = client.post("/v1/search", json={"query": "where do visitors park?", "top_k": 1}).json()["hits"]
    assert hits[0]["source"] == done["document"]["source"]

    unknown = client.get("/v1/jobs/no-such-job")
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "not_found")
    assert unknown.json()["error"]["message"].startswith("No upload job 'no-such-job': jobs are kept until")


def test_a_slow_upload_fails_its_job_and_the_upload_after_it_is_ingested(
    api_settings: Settings, minilm: SentenceTransformerEmbedder, tmp_path: Path
) -> None:
    app = create_app(api_settings.model_copy(update={"file_timeout_s": 2}), embedder=minilm)
    slow = tmp_path / "slow.md"
    slow.write_text("[" * 8000 + "x" + "]" * 8000 + "\n")  # the Markdown parser is superlinear on these
    good = tmp_path / "parking.md"
    good.write_text("# Parking\n\nVisitors park in bay 12 behind the north entrance.\n")
    with TestClient(app, headers=AUTH) as http:
        started = time.monotonic()
        first, second = upload(http, slow, wait=False), upload(http, good, wait=False)
        assert (first.status_code, second.status_code) == (202, 202)
        assert time.monotonic() - started < 2  # stored and answered, not parsed, in the request

        failed, done = wait_for_job(http, first.json()["id"]), wait_for_job(http, second.json()["id"])
        assert failed["status"] == "failed" and failed["error"]["code"] == "document_error"
        assert "took longer than 2 s" in failed["error"]["message"]
        assert (done["status"], done["outcome"]) == ("done", "added")
        assert [p.name for p in uploads_dir(http).iterdir()] == ["parking.md"]


def test_failed_files_are_listed_with_status_failed(loaded: Loaded, tmp_path: Path) -> None:
    client = loaded.client
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 20)
    empty = tmp_path / "empty.md"
    empty.write_bytes(b"")
    for path in (broken, empty):
        with pytest.raises(DocumentError):
            services(client).ingest.ingest_file(path)  # the ingest path the watcher and `rag ingest` use

    failed = client.get("/v1/documents", params={"status": "failed"})
    assert failed.status_code == 200
    body = failed.json()
    assert (body["documents"], body["total"], body["offset"], body["limit"]) == ([], 2, 0, 100)
    assert [(f["source"], f["error"].split(":")[0]) for f in body["failed"]] == [
        (str(broken.resolve()), "The PDF is damaged and cannot be read"),
        (str(empty.resolve()), "The file is empty (0 bytes)."),
    ]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", f["failed_at"]) for f in body["failed"])
    second = client.get("/v1/documents", params={"status": "failed", "offset": 1, "limit": 1}).json()
    assert ([f["source"] for f in second["failed"]], second["total"]) == ([str(empty.resolve())], 2)
    assert client.get("/v1/documents").json()["total"] == 4  # the ingested list is unaffected


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        ({"question": ""}, "invalid_request", "question: String should have at least 1 character"),
        (
            {"question": "flights", "top_k": 0},
            "invalid_request",
            "top_k: Input should be greater than or equal to 1",
        ),
        (
            {"question": "flights", "top_k": 51},
            "invalid_request",
            "top_k: Input should be less than or equal to 50",
        ),
        ({}, "invalid_request", "question: Field required"),
        ({"question": 7}, "invalid_request", "question: Input should be a valid string"),
        (
            {"question": "flights", "history": [{"role": "bot", "content": "hi"}]},
            "invalid_request",
            "history.0.role: Input should be 'user' or 'assistant'",
        ),
        ({"question": "   "}, "invalid_input", "The question is empty."),
    ],
)
def test_invalid_query_bodies_are_422_with_the_error_shape(
    client: TestClient, body: dict[str, Any], code: str, message: str
) -> None:
    response = client.post("/v1/query", json=body)
    assert (response.status_code, response.json()) == (422, {"error": {"code": code, "message": message}})


def test_malformed_json_and_bad_search_bodies_are_422(client: TestClient) -> None:
    broken = client.post("/v1/query", content=b'{"question": ', headers={"Content-Type": "application/json"})
    assert broken.status_code == 422
    assert broken.json()["error"]["code"] == "invalid_request"
    assert broken.json()["error"]["message"] == "The request body is not valid JSON."
    for body, message in (
        ({"query": ""}, "query: String should have at least 1 character"),
        ({"query": "x", "mode": "fuzzy"}, "mode: Input should be 'hybrid', 'dense' or 'sparse'"),
        ({"query": "x", "top_k": 101}, "top_k: Input should be less than or equal to 100"),
    ):
        response = client.post("/v1/search", json=body)
        assert (response.status_code, response.json()) == (
            422,
            {"error": {"code": "invalid_request", "message": message}},
        )


# -- search ----------------------------------------------------------------------------------------


def test_search_hits_have_the_shape_of_rag_search_json(loaded: Loaded) -> None:
    client = loaded.client
    response = client.post("/v1/search", json={"query": SICK_QUERY, "top_k": 2})
    assert response.status_code == 200
    body = response.json()
    svc = services(client)
    expected = svc.kb.retriever().search(SICK_QUERY, top_k=2, mode=svc.settings.search_mode)
    assert body["query"] == SICK_QUERY
    assert body["hits"] == [hit_json(h) for h in expected]
    top = body["hits"][0]
    assert set(top) == {"text", "source", "page", "section", "score", "doc_id", "chunk_id"}
    assert (Path(top["source"]).name, top["page"], top["doc_id"]) == (
        "handbook.pdf",
        2,
        loaded.documents["handbook.pdf"]["doc_id"],
    )
    assert "Report sick leave to your manager" in top["text"]
    assert body["hits"][0]["score"] >= body["hits"][1]["score"]

    only_md = client.post(
        "/v1/search", json={"query": SICK_QUERY, "top_k": 5, "filters": {"file_types": ["md"]}}
    ).json()
    assert {Path(h["source"]).name for h in only_md["hits"]} == {"travel.md"}
    one_doc = client.post(
        "/v1/search",
        json={
            "query": "laptop",
            "mode": "sparse",
            "filters": {"doc_ids": [loaded.documents["onboarding.html"]["doc_id"]]},
        },
    ).json()
    assert [Path(h["source"]).name for h in one_doc["hits"]] == ["onboarding.html"]
    assert one_doc["hits"][0]["section"] == "Onboarding > Laptops"


# -- answers ---------------------------------------------------------------------------------------


def test_streamed_answer_is_token_events_then_one_answer_event(loaded: Loaded) -> None:
    with loaded.client.stream("POST", "/v1/query", json={"question": FLIGHTS_QUESTION, "stream": True}) as r:
        assert r.status_code == 200
        assert r.headers["content-type"] == "text/event-stream; charset=utf-8"
        events = parse_sse(r.read().decode())
    kinds = [kind for kind, _ in events]
    assert kinds == ["token"] * (len(kinds) - 1) + ["answer"]
    assert len(kinds) > 3
    final = events[-1][1]
    (citation,) = final["citations"]
    n = citation["n"]
    assert "".join(data["text"] for _, data in events[:-1]) == f"{FLIGHTS_SENTENCE[:-1]} [{n}]."
    assert final["answer"] == f"{FLIGHTS_SENTENCE[:-1]} [{n}]."
    assert citation["source"] == loaded.documents["travel.md"]["source"]
    assert citation["quote"] == FLIGHTS_SENTENCE
    assert (final["refused"], final["grounded"]) == (False, True)
    assert set(final["timings"]) >= {"retrieval_ms", "first_token_ms", "generation_ms", "total_ms"}


def test_a_stream_cut_by_ollama_ends_with_an_error_event(
    loaded: Loaded, ollama_server: OllamaProtocolServer
) -> None:
    ollama_server.cut_stream_after = 2
    with loaded.client.stream("POST", "/v1/query", json={"question": FLIGHTS_QUESTION, "stream": True}) as r:
        assert r.status_code == 200
        events = parse_sse(r.read().decode())
    assert events[:2] == [("token", {"text": "Book"}), ("token", {"text": " flights"})]
    kind, error = events[2]
    assert (kind, error["error"]["code"]) == ("error", "llm_unavailable")
    assert error["error"]["message"].startswith(
        f"The answer stream from Ollama at {ollama_server.url} broke off"
    )
    assert len(events) == 3
    ollama_server.cut_stream_after = None
    assert ask(loaded.client).status_code == 200  # the answer slot was given back


@pytest.fixture
def llm_down(
    api_settings: Settings, minilm: SentenceTransformerEmbedder, docs: Path
) -> Iterator[tuple[TestClient, str]]:
    url = unreachable_url()
    app = create_app(api_settings.model_copy(update={"ollama_host": url}), embedder=minilm)
    with TestClient(app, headers=AUTH) as http:
        assert upload(http, docs / "travel.md").status_code == 201
        yield http, url


def test_unreachable_ollama_is_503_naming_the_host_streamed_or_not(llm_down: tuple[TestClient, str]) -> None:
    http, url = llm_down
    expected = {
        "error": {
            "code": "llm_unavailable",
            "message": f"Ollama is not reachable at {url}: start it with `ollama serve` (and "
            f"`ollama pull {MODEL}`), point OLLAMA_HOST at it, or set RAG_LLM.",
        }
    }
    plain = ask(http)
    assert (plain.status_code, plain.json()) == (503, expected)
    with http.stream("POST", "/v1/query", json={"question": FLIGHTS_QUESTION, "stream": True}) as streamed:
        assert streamed.status_code == 503
        assert streamed.headers["content-type"] == "application/json"
        assert json.loads(streamed.read()) == expected
    # A refused question never needs the model, so it is still answered.
    refused = ask(http, "What is the capital of Mongolia?").json()
    assert (refused["refused"], refused["model"]) == (True, None)


def test_answers_beyond_the_limit_get_429_with_retry_after(
    api_settings: Settings,
    minilm: SentenceTransformerEmbedder,
    ollama_server: OllamaProtocolServer,
    docs: Path,
) -> None:
    settings = api_settings.model_copy(update={"max_concurrent_answers": 1, "answer_queue_limit": 0})
    app = create_app(settings, embedder=minilm)
    results: dict[str, tuple[Response, float]] = {}

    def query(name: str, base_url: str) -> None:
        with httpx.Client(base_url=base_url, timeout=30) as http:
            started = time.monotonic()
            response = ask(http)
            results[name] = (response, time.monotonic() - started)

    with serve(app) as url:
        with httpx.Client(base_url=url, timeout=30) as http:
            assert upload(http, docs / "travel.md").status_code == 201
        ollama_server.token_delay_s = 0.3  # nine pieces: the first answer takes about three seconds
        first = threading.Thread(target=query, args=("first", url))
        first.start()
        deadline = time.monotonic() + 20
        while chat_requests(ollama_server) < 1:  # the first answer holds the only slot now
            assert time.monotonic() < deadline and first.is_alive()
            time.sleep(0.01)
        second = threading.Thread(target=query, args=("second", url))
        second.start()
        second.join(20)
        assert first.is_alive()  # refused while the first was still being generated
        first.join(30)

        ok, busy = results["first"][0], results["second"][0]
        assert ok.status_code == 200
        assert ok.json()["citations"][0]["source"].endswith("/uploads/travel.md")
        assert busy.status_code == 429
        assert busy.headers["retry-after"] == "5"
        assert busy.json() == {
            "error": {
                "code": "too_busy",
                "message": "1 answers are being generated and 0 are waiting; try again shortly.",
            }
        }
        assert results["second"][1] < 2.0

        ollama_server.token_delay_s = 0.0
        query("third", url)
        assert results["third"][0].status_code == 200
        assert chat_requests(ollama_server) == 2  # the refused request never reached the model


# -- operations ------------------------------------------------------------------------------------


def test_ready_checks_store_embedder_and_llm(loaded: Loaded, ollama_server: OllamaProtocolServer) -> None:
    chunks = sum(d["chunks"] for d in loaded.documents.values())
    response = loaded.client.get("/ready")
    assert (response.status_code, response.json()) == (
        200,
        {
            "ready": True,
            "checks": {
                "store": {"ok": True, "detail": f"{chunks} chunks"},
                "embedder": {"ok": True, "detail": "sentence-transformers:all-MiniLM-L6-v2, 384-d"},
                "llm": {"ok": True, "detail": f"ollama:{MODEL}"},
            },
        },
    )
    assert [(r.method, r.path, r.body) for r in ollama_server.requests if r.path == "/api/show"] == [
        ("POST", "/api/show", {"model": MODEL})
    ]


def test_ready_is_503_naming_the_host_when_ollama_is_down(llm_down: tuple[TestClient, str]) -> None:
    http, url = llm_down
    response = http.get("/ready")
    assert response.status_code == 503
    body = response.json()
    assert body["ready"] is False
    assert (body["checks"]["store"]["ok"], body["checks"]["embedder"]["ok"]) == (True, True)
    assert body["checks"]["llm"] == {
        "ok": False,
        "detail": f"Ollama is not reachable at {url}: start it with `ollama serve` (and "
        f"`ollama pull {MODEL}`), point OLLAMA_HOST at it, or set RAG_LLM.",
    }


def test_metrics_count_requests_documents_and_chunks(loaded: Loaded) -> None:
    client = loaded.client
    client.get("/v1/documents")
    client.get("/v1/documents/missing")
    client.get("/v1/models", headers={"Authorization": "Bearer wrong"})
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    got = samples(response.text)

    def requests(method: str, route: str, status: str) -> float:
        return got[
            (
                "rag_http_requests_total",
                frozenset({"method": method, "route": route, "status": status}.items()),
            )
        ]

    assert requests("POST", "/v1/documents", "201") == 4.0
    assert requests("GET", "/v1/documents", "200") == 1.0
    assert requests("GET", "/v1/documents/{doc_id}", "404") == 1.0
    assert requests("GET", "unmatched", "401") == 1.0
    assert got[("rag_documents", frozenset())] == 4.0
    assert got[("rag_chunks", frozenset())] == float(sum(d["chunks"] for d in loaded.documents.values()))

    client.delete(f"/v1/documents/{loaded.documents['handbook.pdf']['doc_id']}")
    after = samples(client.get("/metrics").text)
    assert (after[("rag_documents", frozenset())], after[("rag_chunks", frozenset())]) == (3.0, 3.0)


def test_metrics_count_ingested_files_by_outcome(loaded: Loaded, docs: Path) -> None:
    upload(loaded.client, docs / "travel.md")  # unchanged
    got = samples(loaded.client.get("/metrics").text)
    assert got.get(("rag_ingested_files_total", frozenset({"outcome": "added"}.items()))) == 4.0
    assert got.get(("rag_ingested_files_total", frozenset({"outcome": "unchanged"}.items()))) == 1.0


def test_every_response_carries_a_request_id_and_echoes_a_given_one(client: TestClient) -> None:
    for response in (
        client.get("/health"),
        client.get("/v1/models"),
        client.get("/v1/documents/nope"),
        client.get("/v1/models", headers={"Authorization": "Bearer wrong"}),
    ):
        assert REQUEST_ID.fullmatch(response.headers["x-request-id"]), response.headers
    assert len({client.get("/health").headers["x-request-id"] for _ in range(3)}) == 3
    echoed = client.get("/v1/models", headers={"X-Request-ID": "trace-42-abc"})
    assert echoed.headers["x-request-id"] == "trace-42-abc"
    unsafe = client.get("/v1/models", headers={"X-Request-ID": "bad id\\r\\n"})
    assert REQUEST_ID.fullmatch(unsafe.headers["x-request-id"])
