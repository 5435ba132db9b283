"""Request ids in every log line of a request, one access-log line per request, and metric labels
from fixed sets (fast tier: the real app over the hashing embedder, no LLM)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from support.fakes import HashingEmbedder

from api.app import create_app
from api.observability import LOG_FORMAT, METHODS, RequestIdFilter
from rag.config import Settings
from rag.labels import printable


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.setFormatter(logging.Formatter(LOG_FORMAT))
        self.addFilter(RequestIdFilter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture(name="client")
def client_fixture(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(data_dir=tmp_path / "data", llm="none", auth_disabled=True, _env_file=None)  # type: ignore[call-arg]
    with TestClient(create_app(settings, embedder=HashingEmbedder()), base_url="http://localhost") as client:
        yield client


@pytest.fixture(name="log_lines")
def log_lines_fixture() -> Iterator[Lines]:
    handler = Lines()
    loggers = [logging.getLogger(name) for name in ("rag.access", "rag.api")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    yield handler
    for logger, level in zip(loggers, levels, strict=True):
        logger.removeHandler(handler)
        logger.setLevel(level)


def test_a_failed_request_is_logged_with_the_request_id_the_client_got(
    client: TestClient, log_lines: Lines
) -> None:
    response = client.get("/v1/documents/no-such-document")
    assert response.status_code == 404
    request_id = response.headers["x-request-id"]
    [line] = [line for line in log_lines.lines if "rag.access" in line]
    assert f"[{request_id}]" in line and "GET /v1/documents/no-such-document 404" in line


def test_made_up_methods_and_paths_add_no_metric_series(client: TestClient) -> None:
    for n in range(30):
        client.request(f"BREW{n}", f"/made/up/{n}")
        client.get(f"/v1/made-up-{n}")
    body = client.get("/metrics").text
    samples = [
        sample
        for family in text_string_to_metric_families(body)
        if family.name == "rag_http_requests"
        for sample in family.samples
    ]
    methods = {s.labels["method"] for s in samples}
    routes = {s.labels["route"] for s in samples}
    assert methods <= METHODS | {"other"} and "other" in methods
    assert not any("made" in route for route in routes) and "unmatched" in routes
    assert len(samples) < 20


def test_control_characters_in_logged_paths_are_escaped() -> None:
    assert printable("/v1/\x1b]0;owned\x07docs") == "/v1/\\x1b]0;owned\\x07docs"
    assert printable("x" * 300, limit=200).endswith("...") and len(printable("x" * 300, limit=200)) == 203
    assert printable("caf\udce9.txt") == "caf\\udce9.txt"  # a name that is not UTF-8


# -- host names and cross-site requests (DNS rebinding) ----------------------------------------------


def test_with_auth_off_only_loopback_host_names_are_answered(client: TestClient) -> None:
    for host in ("localhost", "localhost:8000", "127.0.0.1:8000", "[::1]:8000"):
        assert client.get("/v1/documents", headers={"Host": host}).status_code == 200, host
    rebound = client.get("/v1/documents", headers={"Host": "attacker.example:8000"})
    assert rebound.status_code == 400
    assert rebound.json()["error"] == {
        "code": "host_not_allowed",
        "message": "This server does not answer to the host name 'attacker.example': add it to "
        "RAG_ALLOWED_HOSTS if it is yours.",
    }


def test_with_auth_off_a_cross_site_upload_is_refused(client: TestClient) -> None:
    files = {"file": ("planted.txt", b"Transfer the money to account 123.")}
    planted = client.post("/v1/documents", files=files, headers={"Origin": "http://attacker.example"})
    assert planted.status_code == 403 and planted.json()["error"]["code"] == "cross_site_request"
    same_site = client.post(
        "/v1/documents?wait=true", files=files, headers={"Origin": "http://localhost:8000"}
    )
    assert same_site.status_code == 201, same_site.text
    assert client.post("/v1/search", json={"query": "money"}, headers={}).status_code == 200


def test_with_api_keys_any_host_is_answered_and_the_allow_list_is_configurable(tmp_path: Path) -> None:
    base = Settings(data_dir=tmp_path / "data", llm="none", api_keys=SecretStr("k"), _env_file=None)  # type: ignore[call-arg]
    assert base.allowed_host_names() is None
    listed = base.model_copy(update={"allowed_hosts": "rag.example.com, intranet"})
    assert listed.allowed_host_names() == frozenset({"rag.example.com", "intranet"})
    with TestClient(create_app(listed, embedder=HashingEmbedder())) as client:
        headers = {"Authorization": "Bearer k"}
        assert client.get("/v1/documents", headers={**headers, "Host": "intranet:8000"}).status_code == 200
        assert client.get("/v1/documents", headers={**headers, "Host": "other"}).status_code == 400
