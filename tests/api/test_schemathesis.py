"""Property-based API testing: schemathesis generates requests from the app's own /openapi.json (valid
and invalid ones) and no request may make the server fail (5xx).

RAG_LLM=none, so answers are the cited passages and no model server is needed; the knowledge base holds a
few small documents so searches and answers have something to find."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from api_support import API_KEY, AUTH, write_docs
from conftest import QUICKSTART_EMBEDDER
from hypothesis import HealthCheck, given, settings
from pydantic import SecretStr
from schemathesis import Case, GenerationMode
from schemathesis.python import asgi
from schemathesis.specs.openapi.schemas import OpenApiSchema

from api.app import create_app
from ingest.service import IngestService
from rag.config import Settings
from rag.embedding.local import SentenceTransformerEmbedder
from rag.knowledge_base import KnowledgeBase

MAX_EXAMPLES = 25


@pytest.fixture(scope="module")
def api_schema(
    tmp_path_factory: pytest.TempPathFactory, minilm: SentenceTransformerEmbedder
) -> Iterator[OpenApiSchema]:
    root = tmp_path_factory.mktemp("schemathesis")
    configured = Settings(
        data_dir=root / "data",
        embedder=QUICKSTART_EMBEDDER,
        llm="none",
        api_keys=SecretStr(API_KEY),
        _env_file=None,  # type: ignore[call-arg]
    )
    kb = KnowledgeBase(configured, embedder=minilm)
    try:
        with IngestService(kb) as service:
            report = service.sync([write_docs(root / "docs")])
    finally:
        kb.close()
    assert (report.added, report.failed) == (4, [])

    app = create_app(configured, embedder=minilm)
    # Loading the schema starts the app's lifespan; schemathesis keeps it running for every case.
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, headers=AUTH)
    try:
        yield schema
    finally:
        asgi.shutdown_lifespans()  # closes the store and the ledger


# Each operation, with the statuses a schema-valid ("positive") request may get. Valid by the schema is
# not always acceptable to the app (a blank question, a file type it does not read, a paging cursor the
# server did not hand out: the schema can only say "a string" of an opaque token), hence the 422s.
OPERATIONS: dict[tuple[str, str], set[int]] = {
    ("POST", "/v1/query"): {200, 422},
    ("POST", "/v1/search"): {200, 422},
    ("GET", "/v1/documents"): {200, 422},
    ("POST", "/v1/documents"): {200, 201, 202, 415, 422},
    ("GET", "/v1/jobs/{job_id}"): {404},
    ("GET", "/v1/documents/{doc_id}"): {404},
    ("DELETE", "/v1/documents/{doc_id}"): {404},
    ("GET", "/v1/models"): {200},
    ("POST", "/v1/chat/completions"): {200, 422},
    ("GET", "/health"): {200},
    ("GET", "/ready"): {200},
    ("GET", "/metrics"): {200},
}


# schemathesis' own pytest integration (`schemathesis.pytest.from_fixture` + `@schema.parametrize()`) fails
# under pytest 9 (it sets `request.node._nodeid`, which pytest 9 no longer has), so the cases come from
# its Hypothesis strategies instead: the same generated requests, one test per operation and mode.
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=str)
@pytest.mark.parametrize(("method", "path"), list(OPERATIONS))
def test_no_request_makes_the_server_fail(
    api_schema: OpenApiSchema, method: str, path: str, mode: GenerationMode
) -> None:
    operation = api_schema[path][method]
    statuses: set[int] = set()

    @given(case=operation.as_strategy(mode))
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
    )
    def check(case: Case[Any]) -> None:
        request = case.as_curl_command(headers=AUTH)
        try:
            response = case.call(headers=AUTH)
        except Exception as exc:  # the in-process transport re-raises what made the app answer 500
            raise AssertionError(f"500 ({exc!r}) for {request}") from exc
        statuses.add(response.status_code)
        assert response.status_code < 500, (
            f"{response.status_code} for {request}: {response.content[:2000]!r}"
        )

    check()
    assert statuses  # requests were really made
    if mode == GenerationMode.POSITIVE:  # with the key: no 401s, the cases reached the handlers
        assert statuses <= OPERATIONS[method, path], statuses


def test_the_schema_covers_every_operation(api_schema: OpenApiSchema) -> None:
    paths = api_schema.raw_schema["paths"]
    assert {(method.upper(), path) for path, ops in paths.items() for method in ops} == set(OPERATIONS)


def test_the_knowledge_base_survived_the_run(api_schema: OpenApiSchema) -> None:
    """A sanity check that the cases ran against a working app: the documents are still searchable."""
    with asgi.get_client(api_schema.app) as http:
        hits = http.post("/v1/search", json={"query": "book flights", "top_k": 1}, headers=AUTH).json()[
            "hits"
        ]
    assert Path(hits[0]["source"]).name == "travel.md"
