"""OllamaGenerator against an in-test server speaking Ollama's wire protocol; make_generator's choices."""

from __future__ import annotations

import socket
from typing import Any

import pytest
from support.ollama_server import OllamaProtocolServer

from rag.config import Settings
from rag.errors import ConfigError, LLMUnavailableError, ModelNotFoundError
from rag.generation import make_generator
from rag.generation.base import Message
from rag.generation.ollama import OllamaGenerator
from rag.generation.openai_compat import OpenAICompatibleGenerator

REPLY = "Employees get 10 weeks of paid family leave [1]."
MESSAGES = [Message("system", "Answer from the sources."), Message("user", "How long is family leave?")]


def generator(url: str, model: str = "qwen2.5:14b") -> OllamaGenerator:
    return OllamaGenerator(model, url, num_ctx=4096, temperature=0.2, keep_alive="5m", timeout_s=10)


def free_port() -> int:
    with socket.socket() as probe:  # bound, never listening, closed: nobody answers there
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def chat_bodies(server: OllamaProtocolServer) -> list[dict[str, Any]]:
    return [r.body for r in server.requests if r.path == "/api/chat"]


def test_generate_returns_the_reply_and_sends_the_window_and_options(
    ollama_server: OllamaProtocolServer,
) -> None:
    ollama_server.respond = lambda messages: REPLY
    gen = generator(ollama_server.url)
    assert gen.name == "ollama:qwen2.5:14b"
    assert gen.generate(MESSAGES, 64) == REPLY
    gen.close()
    (body,) = chat_bodies(ollama_server)
    sent = {k: body[k] for k in ("model", "messages", "stream", "options", "keep_alive")}
    assert sent == {
        "model": "qwen2.5:14b",
        "messages": [
            {"role": "system", "content": "Answer from the sources."},
            {"role": "user", "content": "How long is family leave?"},
        ],
        "stream": False,
        "options": {"num_ctx": 4096, "temperature": 0.2, "num_predict": 64},
        "keep_alive": "5m",
    }


def test_respond_sees_the_messages_as_sent(ollama_server: OllamaProtocolServer) -> None:
    seen: list[list[dict[str, object]]] = []

    def respond(messages: list[dict[str, object]]) -> str:
        seen.append(messages)
        return "ok"

    ollama_server.respond = respond
    assert generator(ollama_server.url).generate(MESSAGES, 16) == "ok"
    assert seen == [[m.as_dict() for m in MESSAGES]]


def test_stream_yields_pieces_that_add_up_to_the_reply(ollama_server: OllamaProtocolServer) -> None:
    ollama_server.respond = lambda messages: REPLY
    pieces = list(generator(ollama_server.url).stream(MESSAGES, 32))
    assert len(pieces) == len(REPLY.split())
    assert pieces[0] == "Employees"
    assert "".join(pieces) == REPLY
    (body,) = chat_bodies(ollama_server)
    assert body["stream"] is True
    assert body["options"] == {"num_ctx": 4096, "temperature": 0.2, "num_predict": 32}
    assert body["keep_alive"] == "5m"


def test_unknown_model_says_how_to_pull_it(ollama_server: OllamaProtocolServer) -> None:
    gen = generator(ollama_server.url, model="llama3.1:8b")
    with pytest.raises(ModelNotFoundError) as err:
        gen.generate(MESSAGES, 16)
    assert "ollama pull llama3.1:8b" in err.value.message
    assert ollama_server.url in err.value.message
    with pytest.raises(ModelNotFoundError) as streamed:
        list(gen.stream(MESSAGES, 16))
    assert "ollama pull llama3.1:8b" in streamed.value.message


def test_connection_refused_names_the_host_and_ollama_serve() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    gen = generator(url)
    with pytest.raises(LLMUnavailableError) as err:
        gen.generate(MESSAGES, 16)
    assert f"Ollama is not reachable at {url}" in err.value.message
    assert "`ollama serve`" in err.value.message
    assert err.value.code == "llm_unavailable"
    with pytest.raises(LLMUnavailableError) as streamed:
        next(gen.stream(MESSAGES, 16))
    assert f"Ollama is not reachable at {url}" in streamed.value.message


def test_stream_cut_in_the_middle_raises_after_the_pieces_received(
    ollama_server: OllamaProtocolServer,
) -> None:
    ollama_server.respond = lambda messages: REPLY
    ollama_server.cut_stream_after = 2
    received: list[str] = []
    with pytest.raises(LLMUnavailableError) as err:
        for piece in generator(ollama_server.url).stream(MESSAGES, 32):
            received.append(piece)
    assert received == ["Employees", " get"]
    assert f"The answer stream from Ollama at {ollama_server.url} broke off" in err.value.message


def test_error_line_in_the_stream_becomes_llm_unavailable(ollama_server: OllamaProtocolServer) -> None:
    def respond(messages: list[dict[str, object]]) -> str:
        raise RuntimeError("model runner crashed")

    ollama_server.respond = respond
    with pytest.raises(LLMUnavailableError) as err:
        list(generator(ollama_server.url).stream(MESSAGES, 32))
    assert err.value.message == (f"Ollama at {ollama_server.url} refused the request: model runner crashed")


def test_make_generator_none_gives_no_generator(settings: Settings) -> None:
    assert make_generator(settings.model_copy(update={"llm": "none"})) is None


def test_make_generator_builds_ollama_from_settings(
    settings: Settings, ollama_server: OllamaProtocolServer
) -> None:
    ollama_server.respond = lambda messages: REPLY
    configured = settings.model_copy(
        update={
            "llm": "ollama:qwen2.5:14b",
            "ollama_host": ollama_server.url,
            "llm_context_tokens": 2048,
            "llm_temperature": 0.0,
            "llm_keep_alive": "1h",
        }
    )
    gen = make_generator(configured)
    assert isinstance(gen, OllamaGenerator)
    assert gen.name == "ollama:qwen2.5:14b"
    assert gen.generate(MESSAGES, 8) == REPLY
    (body,) = chat_bodies(ollama_server)
    assert body["options"] == {"num_ctx": 2048, "temperature": 0.0, "num_predict": 8}
    assert body["keep_alive"] == "1h"


def test_make_generator_openai_needs_a_base_url(settings: Settings) -> None:
    with pytest.raises(ConfigError) as err:
        make_generator(settings.model_copy(update={"llm": "openai:x", "llm_base_url": None}))
    assert "RAG_LLM_BASE_URL" in err.value.message
    gen = make_generator(
        settings.model_copy(update={"llm": "openai:x", "llm_base_url": "http://127.0.0.1:8080/v1"})
    )
    assert isinstance(gen, OpenAICompatibleGenerator)
    assert gen.name == "openai:x"
    gen.close()
