"""Shared fixtures. Everything runs offline: the embedder is the packaged all-MiniLM-L6-v2, the store is
the real embedded Qdrant Edge (or qdrant-client), and Ollama is an in-test server speaking its protocol."""

# ruff: noqa: E402  (the environment below must be set before rag.config is imported)
from __future__ import annotations

import os
import tempfile

# Nothing a test runs (in process or as a subprocess) may read or write this user's saved settings or
# default knowledge base (~/.config/private-rag, ~/.local/share/private-rag).
_ISOLATED_HOME = tempfile.mkdtemp(prefix="rag-tests-xdg-")
os.environ["XDG_CONFIG_HOME"] = os.path.join(_ISOLATED_HOME, "config")
os.environ["XDG_DATA_HOME"] = os.path.join(_ISOLATED_HOME, "data")
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from support.fixtures import ollama_server  # noqa: F401  (fixture)
from support.postgres import postgres_server, postgres_url  # noqa: F401  (fixtures)

from rag.config import Settings
from rag.embedding.base import Embedder, ForwardingEmbedder, Vector
from rag.embedding.local import SentenceTransformerEmbedder
from rag.knowledge_base import KnowledgeBase

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("DO_NOT_TRACK", "1")

QUICKSTART_EMBEDDER = "sentence-transformers:all-MiniLM-L6-v2"
SAMPLE_DOCS = Path(__file__).resolve().parent.parent / "sample_docs"


class CountingEmbedder(ForwardingEmbedder):
    """The real embedder, with a tally of what it was asked to embed (to prove "no re-embedding")."""

    def __init__(self, inner: Embedder) -> None:
        super().__init__(inner)
        self.documents_embedded = 0
        self.queries_embedded = 0

    def embed_documents(self, texts: Sequence[str]) -> list[Vector]:
        self.documents_embedded += len(texts)
        return self.inner.embed_documents(texts)

    def embed_query(self, text: str) -> Vector:
        self.queries_embedded += 1
        return self.inner.embed_query(text)


# The fast tier (`pytest -m "not slow"`) loads no model. A test that uses one of these fixtures runs a
# real model (MiniLM, the 0.5B LLM) or a CLI that loads one, and is marked slow here; any other test
# that loads a model fails (see `_fast_tier_loads_no_model`), so the tier stays honest.
MODEL_FIXTURES = frozenset(
    {"minilm", "embedder", "sample_kb", "llm_server", "rag_env", "app", "api_settings", "live_url"}
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if MODEL_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True)
def _fast_tier_loads_no_model(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    if request.node.get_closest_marker("slow") is not None:
        return

    def refuse(path: str) -> None:
        raise AssertionError(
            f"this test loads a model ({path}) but is not marked slow: mark it, or use tests/support/fakes.py"
        )

    monkeypatch.setattr("rag.embedding.local._load", refuse)


@pytest.fixture(scope="session")
def minilm() -> SentenceTransformerEmbedder:
    embedder = SentenceTransformerEmbedder("all-MiniLM-L6-v2")
    _ = embedder.dimension  # load once for the whole session
    return embedder


@pytest.fixture
def embedder(minilm: SentenceTransformerEmbedder) -> CountingEmbedder:
    return CountingEmbedder(minilm)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", embedder=QUICKSTART_EMBEDDER, _env_file=None)  # type: ignore[call-arg]


@pytest.fixture
def rag_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Environment for CLI runs: a private data dir and the quick-start embedder."""
    for key in list(os.environ):
        if key.startswith("RAG_"):
            monkeypatch.delenv(key)
    data = tmp_path / "data"
    monkeypatch.setenv("RAG_DATA_DIR", str(data))
    monkeypatch.setenv("RAG_EMBEDDER", QUICKSTART_EMBEDDER)
    monkeypatch.chdir(tmp_path)
    yield data


@pytest.fixture(scope="session")
def sample_kb(
    tmp_path_factory: pytest.TempPathFactory, minilm: SentenceTransformerEmbedder
) -> Iterator[KnowledgeBase]:
    """The whole sample knowledge base, ingested once per test session (about half a minute)."""
    from ingest.service import IngestService

    settings = Settings(
        data_dir=tmp_path_factory.mktemp("sample") / "data", embedder=QUICKSTART_EMBEDDER, _env_file=None
    )  # type: ignore[call-arg]
    kb = KnowledgeBase(settings, embedder=minilm)
    with IngestService(kb) as service:
        report = service.sync([SAMPLE_DOCS])
    assert report.failed == [], report.failed
    yield kb
    kb.close()


def sample_questions() -> list[dict[str, object]]:
    import json

    lines = (SAMPLE_DOCS / "questions.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


@pytest.fixture(scope="session")
def llm_server() -> Iterator[object]:
    """llama.cpp's OpenAI-compatible server with Qwen2.5-0.5B-Instruct (tests/support/llm.py).

    Skips with the reason when the model packages are not installed, except where
    RAG_REQUIRE_ALL_TESTS=1 (scripts/test.sh sets it): there a missing model is a failure."""
    from support.llm import LLMUnavailable, llama_cpp_server

    try:
        with llama_cpp_server(context_tokens=2048) as server:
            yield server
    except LLMUnavailable as exc:
        if os.environ.get("RAG_REQUIRE_ALL_TESTS") == "1":
            pytest.fail(f"the real-LLM tests must run here: {exc}")
        pytest.skip(f"no local test LLM: {exc}")
