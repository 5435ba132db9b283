"""Bodies are capped before they are spooled: from Content-Length, and while a chunked body streams."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from support.fakes import HashingEmbedder

from api.app import create_app
from api.body_limit import JSON_BODY_LIMIT
from rag.config import Settings

MB = 1024 * 1024


@pytest.fixture(name="client")
def client_fixture(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(
        data_dir=tmp_path / "data", llm="none", auth_disabled=True, max_upload_mb=1, _env_file=None
    )  # type: ignore[call-arg]
    app = create_app(settings, embedder=HashingEmbedder())
    with TestClient(app, base_url="http://localhost") as client:
        yield client


def multipart(name: str, content: bytes) -> tuple[bytes, str]:
    boundary = "rag-test-boundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            "Content-Type: text/plain\r\n\r\n"
        ).encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


def test_an_upload_over_the_cap_is_refused_from_its_declared_length(client: TestClient) -> None:
    body, content_type = multipart("big.txt", b"word " * (MB // 2))  # 2.5 MB > 1 MB
    response = client.post("/v1/documents", content=body, headers={"Content-Type": content_type})
    assert response.status_code == 413
    assert response.json()["error"]["message"] == "The file is larger than 1 MB (RAG_MAX_UPLOAD_MB)."


def test_a_chunked_upload_is_cut_off_while_it_streams(client: TestClient) -> None:
    body, content_type = multipart("big.txt", b"word " * (MB // 2))

    def chunks() -> Iterator[bytes]:  # no Content-Length: the server must count
        for start in range(0, len(body), 64 * 1024):
            yield body[start : start + 64 * 1024]

    response = client.post("/v1/documents", content=chunks(), headers={"Content-Type": content_type})
    assert response.status_code == 413
    assert "RAG_MAX_UPLOAD_MB" in response.json()["error"]["message"]


def test_json_bodies_are_capped_and_small_ones_pass(client: TestClient) -> None:
    huge = json.dumps({"query": "x", "padding": "y" * JSON_BODY_LIMIT})
    response = client.post("/v1/search", content=huge, headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.json()["error"] == {
        "code": "payload_too_large",
        "message": "The request body is larger than 2 MB.",
    }
    body, content_type = multipart("small.txt", b"The canteen opens at noon on weekdays.")
    assert (
        client.post("/v1/documents", content=body, headers={"Content-Type": content_type}).status_code == 202
    )
    assert client.post("/v1/search", json={"query": "canteen"}).status_code == 200


def test_uploads_interrupted_by_a_crash_are_removed_at_start(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", llm="none", auth_disabled=True, _env_file=None)  # type: ignore[call-arg]
    settings.uploads_dir.mkdir(parents=True)
    stale = settings.uploads_dir / ".3f2a9c.part.pdf"
    stale.write_bytes(b"%PDF-1.7 half of an upload")
    kept = settings.uploads_dir / "kept.txt"
    kept.write_text("An upload that finished.")
    with TestClient(create_app(settings, embedder=HashingEmbedder()), base_url="http://localhost"):
        assert not stale.exists() and kept.exists()
