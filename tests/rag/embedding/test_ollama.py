"""The Ollama embedder against a server speaking Ollama's wire protocol (tests/support/ollama_server.py)."""

from __future__ import annotations

import socket

import pytest
from support.ollama_server import EMBED_DIM, OllamaProtocolServer

from rag.config import Settings
from rag.embedding import make_embedder
from rag.embedding.ollama import OllamaEmbedder
from rag.errors import EmbedderUnavailableError, ModelNotFoundError
from rag.tokens import approx_token_count


def test_documents_and_queries_get_nomic_prefixes_in_batches(ollama_server: OllamaProtocolServer) -> None:
    embedder = OllamaEmbedder("nomic-embed-text", ollama_server.url, batch_size=2)
    vectors = embedder.embed_documents(["alpha", "beta", "gamma"])
    query = embedder.embed_query("what is alpha?")
    assert len(vectors) == 3 and all(len(v) == EMBED_DIM for v in vectors)
    assert len(query) == EMBED_DIM
    bodies = [r.body for r in ollama_server.requests if r.path == "/api/embed"]
    assert [b["input"] for b in bodies] == [
        ["search_document: alpha", "search_document: beta"],
        ["search_document: gamma"],
        ["search_query: what is alpha?"],
    ]
    assert all(b["model"] == "nomic-embed-text" and b["options"]["num_ctx"] >= 2048 for b in bodies)


def test_models_without_task_prefixes_get_raw_text(ollama_server: OllamaProtocolServer) -> None:
    ollama_server.models  # noqa: B018  (server is up)
    with OllamaProtocolServer(models=["mxbai-embed-large"]) as server:
        embedder = OllamaEmbedder("mxbai-embed-large", server.url)
        embedder.embed_documents(["alpha"])
        assert server.requests[-1].body["input"] == ["alpha"]


def test_dimension_is_probed_once(ollama_server: OllamaProtocolServer) -> None:
    embedder = OllamaEmbedder("nomic-embed-text", ollama_server.url)
    assert embedder.dimension == EMBED_DIM
    assert embedder.dimension == EMBED_DIM
    assert len([r for r in ollama_server.requests if r.path == "/api/embed"]) == 1


def test_model_not_pulled_says_how_to_pull_it(ollama_server: OllamaProtocolServer) -> None:
    embedder = OllamaEmbedder("bge-m3", ollama_server.url)
    with pytest.raises(ModelNotFoundError) as err:
        embedder.embed_query("hello")
    assert "ollama pull bge-m3" in err.value.message
    assert ollama_server.url in err.value.message


def test_unreachable_ollama_names_the_host_and_the_fix() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    embedder = OllamaEmbedder("nomic-embed-text", f"http://127.0.0.1:{port}", timeout_s=2)
    with pytest.raises(EmbedderUnavailableError) as err:
        embedder.embed_documents(["x"])
    assert f"127.0.0.1:{port}" in err.value.message and "ollama serve" in err.value.message


def test_server_error_is_reported_with_ollamas_message() -> None:
    def broken(texts: list[str]) -> list[list[float]]:
        raise RuntimeError("model runner crashed")

    with (
        OllamaProtocolServer(models=["nomic-embed-text"], embed=broken) as server,
        pytest.raises(EmbedderUnavailableError) as err,
    ):
        OllamaEmbedder("nomic-embed-text", server.url).embed_query("x")
    assert "500" in err.value.message


def test_settings_build_an_ollama_embedder_honouring_ollama_host(
    ollama_server: OllamaProtocolServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RAG_OLLAMA_HOST", raising=False)
    monkeypatch.setenv("OLLAMA_HOST", ollama_server.url.removeprefix("http://"))
    embedder = make_embedder(Settings(embedder="ollama:nomic-embed-text", _env_file=None))  # type: ignore[call-arg]
    assert embedder.name == "ollama:nomic-embed-text"
    assert embedder.dimension == EMBED_DIM


def test_token_estimate_is_conservative_for_prose() -> None:
    text = "The quick brown fox jumps over the lazy dog, twice."
    assert approx_token_count(text) >= 12  # the BERT WordPiece tokenizer gives 12
