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


# Multilingual models through Ollama (issue 16). Prefixes, dimensions and windows from the model cards:
# bge-m3 takes no instruction, 1024 dimensions, 8192 tokens; nomic-embed-text-v2-moe takes
# "search_query: " / "search_document: ", 768 dimensions, 512 tokens.
@pytest.mark.parametrize(
    ("model", "document", "query", "window"),
    [
        ("nomic-embed-text", "search_document: ", "search_query: ", 2048),
        ("nomic-embed-text-v2-moe", "search_document: ", "search_query: ", 512),
        ("nomic-embed-text-v2-moe:latest", "search_document: ", "search_query: ", 512),
        ("bge-m3", "", "", 2048),
        ("bge-m3:567m", "", "", 2048),
        ("jeffh/intfloat-multilingual-e5-small:f16", "passage: ", "query: ", 2048),
    ],
)
def test_multilingual_models_get_their_own_prefixes_and_window(
    model: str, document: str, query: str, window: int
) -> None:
    korean = "게이트웨이는 포트 4443을 사용합니다."
    chinese = "VPN网关用哪个端口？"
    with OllamaProtocolServer(models=[model]) as server:
        embedder = OllamaEmbedder(model, server.url, batch_size=8)
        embedder.embed_documents([korean, "本文"])
        embedder.embed_query(chinese)
        bodies = [r.body for r in server.requests if r.path == "/api/embed"]
    assert [b["input"] for b in bodies] == [[document + korean, document + "本文"], [query + chinese]]
    # The window asked of Ollama and the one chunks are sized for are the same: the model's own, or
    # our 2048 where the model's is larger (bge-m3 and nomic-embed-text v1.5 have 8192).
    assert all(b["model"] == model and b["options"]["num_ctx"] == window for b in bodies)
    assert embedder.max_tokens == window


def test_the_model_windows_are_the_ones_on_the_model_cards() -> None:
    from rag.embedding.ollama import MODEL_WINDOWS

    assert MODEL_WINDOWS["bge-m3"] == 8192
    assert MODEL_WINDOWS["nomic-embed-text-v2-moe"] == 512
    assert MODEL_WINDOWS["nomic-embed-text"] == 8192


def test_cjk_text_counts_a_token_per_character_so_chunks_fit_the_window() -> None:
    # No spaces in Chinese or Japanese: counted as words, a whole paragraph would be one or two tokens
    # and a chunk many times the model's window, cut off where the model stops reading.
    embedder = OllamaEmbedder("nomic-embed-text-v2-moe", "http://127.0.0.1:9")
    chinese = "公司的VPN网关使用端口4443。员工必须先安装客户端证书，然后才能连接到内部网络。"
    japanese = "会社のVPNゲートウェイはポート4443を使用します。"
    korean = "회사 VPN 게이트웨이는 포트 4443을 사용합니다."
    # At least a token for each Han, kana or Hangul character (32, 19 and 16 of them).
    assert embedder.count_tokens(chinese) >= 32
    assert embedder.count_tokens(japanese) >= 19
    assert embedder.count_tokens(korean) >= 16
    # Text without those scripts is counted as before.
    assert embedder.count_tokens("The quick brown fox.") == 7
    assert approx_token_count(chinese) == embedder.count_tokens(chinese)  # the prompt budget agrees
    embedder.close()
