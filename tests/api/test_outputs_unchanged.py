"""The CLI's JSON and the HTTP bodies on sample_docs/ are a contract: a refactoring must not change them.

The expected outputs in golden/ were recorded before the layers were rearranged (issue 12). Only what
differs from run to run is normalised: the checkout's path, ids derived from it, timestamps, timings.
Re-record on purpose with `UPDATE_GOLDEN=1 pytest tests/api/test_outputs_unchanged.py`.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import SAMPLE_DOCS
from fastapi.testclient import TestClient

from api.app import create_app
from api.cli import cli
from rag.config import Settings
from rag.embedding.local import SentenceTransformerEmbedder

pytestmark = pytest.mark.slow

GOLDEN = Path(__file__).resolve().parent / "golden"
QUESTION = "How many days of annual leave do employees get?"
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
VOLATILE = {"ingested_at", "failed_at", "timings", "timings_ms", "request_id", "created", "id"}


def normalise(value: Any, ids: dict[str, str], data: Path) -> Any:
    """Paths relative to the checkout, ids numbered by first appearance, volatile fields blanked,
    scores to 4 places (the last bits of a float differ between BLAS builds)."""
    if isinstance(value, dict):
        return {k: "<volatile>" if k in VOLATILE else normalise(v, ids, data) for k, v in value.items()}
    if isinstance(value, list):
        return [normalise(v, ids, data) for v in value]
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, str):
        value = value.replace(str(SAMPLE_DOCS), "sample_docs").replace(str(data), "<data>")
        return UUID.sub(lambda m: ids.setdefault(m.group(0), f"<id{len(ids)}>"), value)
    return value


def check(name: str, outputs: dict[str, Any], data: Path) -> None:
    path = GOLDEN / f"{name}.json"
    text = json.dumps(normalise(outputs, {}, data), indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")


@pytest.fixture(name="cli_env")
def cli_env_fixture(rag_env: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("RAG_LLM", "none")  # the cited passages: deterministic, no model needed
    yield rag_env


def cli_json(*args: str) -> Any:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def test_cli_json_is_unchanged(cli_env: Path, tmp_path: Path) -> None:
    queries = tmp_path / "queries.jsonl"
    queries.write_text('{"id": "q1", "query": "VPN gateway"}\n{"id": "q2", "query": "expense limit"}\n')
    check(
        "cli",
        {
            "ingest": cli_json("ingest", str(SAMPLE_DOCS), "--json"),
            "again": cli_json("ingest", str(SAMPLE_DOCS), "--json"),
            "search": cli_json("search", "What is the VPN gateway?", "--json"),
            "search_sparse": cli_json("search", "VPN gateway", "--mode", "sparse", "-k", "3", "--json"),
            "queries": cli_json("search", "--queries", str(queries), "-k", "2"),
            "docs": cli_json("docs", "--json"),
            "failed": cli_json("docs", "--failed", "--json"),
            "ask": cli_json("ask", QUESTION, "--json"),
            "rm": cli_json("rm", str(SAMPLE_DOCS / "it_faq.txt"), "--json"),
        },
        cli_env,
    )


def test_http_bodies_are_unchanged(settings: Settings, minilm: SentenceTransformerEmbedder) -> None:
    app = create_app(settings.model_copy(update={"llm": "none", "auth_disabled": True}), embedder=minilm)
    outputs: dict[str, Any] = {}
    with TestClient(app, base_url="http://localhost") as client:
        for name in ("expense_policy.md", "employee_handbook.pdf", "product_spec_kite_v3.docx"):
            with (SAMPLE_DOCS / name).open("rb") as handle:
                response = client.post("/v1/documents?wait=true", files={"file": (name, handle.read())})
            outputs[f"upload {name}"] = [response.status_code, response.json()]
        requests: list[tuple[str, str, dict[str, Any] | None]] = [
            ("GET", "/v1/documents", None),
            ("POST", "/v1/search", {"query": "expense limit for meals", "top_k": 3}),
            ("POST", "/v1/search", {"query": "Kite battery life", "mode": "dense", "top_k": 2}),
            ("POST", "/v1/query", {"question": QUESTION}),
            ("POST", "/v1/search", {"query": ""}),
            ("GET", "/v1/documents/no-such-id", None),
        ]
        for method, url, body in requests:
            response = client.request(method, url, json=body)
            outputs[f"{method} {url} {json.dumps(body)}"] = [response.status_code, response.json()]
    check("http", outputs, settings.data_dir)
