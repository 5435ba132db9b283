"""Wire-fidelity checks: the official, unmodified ollama client must accept our server."""

import json
import math

import httpx
import ollama
import pytest

from .fixtures import ollama_server as ollama_server  # re-export registers the fixture
from .ollama_server import DEFAULT_REPLY, EMBED_DIM, OllamaProtocolServer

USER = [{"role": "user", "content": "What does the handbook say about leave?"}]


def client(server: OllamaProtocolServer) -> ollama.Client:
    return ollama.Client(host=server.url)


def test_root(ollama_server: OllamaProtocolServer) -> None:
    root = httpx.get(ollama_server.url)
    assert (root.status_code, root.text) == (200, "Ollama is running")


def test_show_and_name_matching(ollama_server: OllamaProtocolServer) -> None:
    shown = client(ollama_server).show("nomic-embed-text")  # no tag means ":latest"
    assert shown.capabilities == ["embedding"]
    assert shown.modelinfo is not None and shown.modelinfo["nomic-embed-text.embedding_length"] == EMBED_DIM
    with pytest.raises(ollama.ResponseError) as err:
        client(ollama_server).show("missing-model")
    assert (err.value.status_code, err.value.error) == (404, "model 'missing-model' not found")
    with pytest.raises(ollama.ResponseError) as err:
        client(ollama_server).show("qwen2.5")  # means qwen2.5:latest, which is not pulled
    assert err.value.status_code == 404
    assert client(ollama_server).show("QWEN2.5:14B").capabilities == ["completion"]


def test_embed_batch(ollama_server: OllamaProtocolServer) -> None:
    texts = ["annual leave policy", "annual leave rules", "quarterly revenue report"]
    result = client(ollama_server).embed(model="nomic-embed-text", input=texts)
    assert result.model == "nomic-embed-text"  # Ollama echoes the name as sent
    assert len(result.embeddings) == 3
    assert all(len(v) == EMBED_DIM for v in result.embeddings)
    assert all(math.isclose(math.fsum(x * x for x in v), 1.0) for v in result.embeddings)
    assert result.prompt_eval_count == 9
    assert result.total_duration is not None and result.total_duration > 0

    def cos(a: int, b: int) -> float:
        return math.fsum(x * y for x, y in zip(result.embeddings[a], result.embeddings[b], strict=True))

    assert cos(0, 1) > cos(0, 2)
    again = client(ollama_server).embed(model="nomic-embed-text:latest", input=texts[0])
    assert list(again.embeddings[0]) == list(result.embeddings[0])  # deterministic


def test_embed_empty_input_returns_no_vectors(ollama_server: OllamaProtocolServer) -> None:
    assert client(ollama_server).embed(model="nomic-embed-text", input=[]).embeddings == []
    raw = httpx.post(f"{ollama_server.url}/api/embed", json={"model": "nomic-embed-text", "input": ""})
    assert raw.json() == {"model": "nomic-embed-text", "embeddings": []}
    bad = httpx.post(f"{ollama_server.url}/api/embed", json={"model": "nomic-embed-text", "input": [1]})
    assert (bad.status_code, bad.json()) == (400, {"error": "invalid input type"})


def test_unknown_model_errors(ollama_server: OllamaProtocolServer) -> None:
    c = client(ollama_server)
    with pytest.raises(ollama.ResponseError) as embed_err:
        c.embed(model="all-minilm", input=["x"])
    # /api/embed reports through handleScheduleError (Go %q), /api/chat directly.
    assert embed_err.value.status_code == 404
    assert embed_err.value.error == 'model "all-minilm" not found, try pulling it first'
    with pytest.raises(ollama.ResponseError) as chat_err:
        next(c.chat(model="llama3.2", messages=USER, stream=True))
    assert (chat_err.value.status_code, chat_err.value.error) == (404, "model 'llama3.2' not found")


def test_chat_with_embedding_model_is_rejected(ollama_server: OllamaProtocolServer) -> None:
    with pytest.raises(ollama.ResponseError) as err:
        client(ollama_server).chat(model="nomic-embed-text", messages=USER, stream=False)
    assert (err.value.status_code, err.value.error) == (400, '"nomic-embed-text" does not support chat')


def test_chat_non_streaming(ollama_server: OllamaProtocolServer) -> None:
    reply = client(ollama_server).chat(
        model="qwen2.5:14b", messages=USER, stream=False, options={"temperature": 0}
    )
    assert reply.message.role == "assistant"
    assert reply.message.content == DEFAULT_REPLY
    assert (reply.done, reply.done_reason, reply.model) == (True, "stop", "qwen2.5:14b")
    assert reply.eval_count == len(DEFAULT_REPLY.split())
    assert reply.created_at is not None and reply.created_at.endswith("Z")
    sent = ollama_server.requests[-1]
    assert (sent.method, sent.path) == ("POST", "/api/chat")
    assert sent.body["stream"] is False and sent.body["options"] == {"temperature": 0}
    assert sent.body["messages"] == USER


def test_chat_streaming(ollama_server: OllamaProtocolServer) -> None:
    def respond(messages: list[dict[str, object]]) -> str:
        return f"You asked: {messages[-1]['content']}  "

    ollama_server.respond = respond
    chunks = list(client(ollama_server).chat(model="qwen2.5:14b", messages=USER, stream=True))
    expected = f"You asked: {USER[0]['content']}  "
    assert "".join(c.message.content or "" for c in chunks) == expected
    assert len(chunks) == len(expected.split()) + 2  # pieces + trailing spaces + final
    assert all(c.done is False and c.done_reason is None for c in chunks[:-1])
    final = chunks[-1]
    assert (final.done, final.done_reason, final.message.content) == (True, "stop", "")
    assert final.eval_count == len(chunks) - 1 and final.prompt_eval_count == 7
    assert all(
        d is not None and d > 0
        for d in (final.total_duration, final.load_duration, final.prompt_eval_duration, final.eval_duration)
    )


def test_chat_defaults_to_streaming_ndjson(ollama_server: OllamaProtocolServer) -> None:
    with httpx.stream(
        "POST", f"{ollama_server.url}/api/chat", json={"model": "qwen2.5:14b", "messages": USER}
    ) as resp:
        assert resp.status_code == 200
        assert resp.headers["content-type"] == "application/x-ndjson"
        assert resp.headers["transfer-encoding"] == "chunked"
        lines = [json.loads(line) for line in resp.iter_lines()]
    assert [line["done"] for line in lines] == [False] * (len(lines) - 1) + [True]
    assert "".join(line["message"]["content"] for line in lines) == DEFAULT_REPLY
    assert set(lines[0]) == {"model", "created_at", "message", "done"}
    assert set(lines[-1]) == {
        "model",
        "created_at",
        "message",
        "done",
        "done_reason",
        "total_duration",
        "load_duration",
        "prompt_eval_count",
        "prompt_eval_duration",
        "eval_count",
        "eval_duration",
    }


def test_cut_stream_raises_in_client() -> None:
    with OllamaProtocolServer(cut_stream_after=2) as server:
        received: list[str] = []
        with pytest.raises(httpx.RemoteProtocolError, match="incomplete chunked read"):
            for chunk in client(server).chat(model="qwen2.5:14b", messages=USER, stream=True):
                received.append(chunk.message.content or "")
        assert received == ["The", " answer"]


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"", "missing request body"),
        (b"{", "unexpected EOF"),
        (b"{bad}", "invalid character 'b' looking for beginning of object key string"),
        (b"nope", "invalid character 'o' in literal null (expecting 'u')"),
        (b"[]", "json: cannot unmarshal array into Go value of type api.ChatRequest"),
    ],
)
def test_malformed_json_is_400(ollama_server: OllamaProtocolServer, body: bytes, error: str) -> None:
    resp = httpx.post(f"{ollama_server.url}/api/chat", content=body)
    assert (resp.status_code, resp.json()) == (400, {"error": error})
    assert resp.headers["content-type"] == "application/json; charset=utf-8"


def test_unknown_route_is_plain_404(ollama_server: OllamaProtocolServer) -> None:
    resp = httpx.get(f"{ollama_server.url}/api/chat")  # gin: wrong method is a 404 too
    assert (resp.status_code, resp.text) == (404, "404 page not found")


def test_generation_failure_is_reported_like_ollama() -> None:
    def respond(messages: list[dict[str, object]]) -> str:
        raise RuntimeError("llama runner process has terminated")

    with OllamaProtocolServer(respond=respond) as server:
        with pytest.raises(ollama.ResponseError) as streamed:
            next(client(server).chat(model="qwen2.5:14b", messages=USER, stream=True))
        # Streams are already 200, so the error arrives as an {"error"} line (no status).
        assert (streamed.value.status_code, streamed.value.error) == (
            -1,
            "llama runner process has terminated",
        )
        with pytest.raises(ollama.ResponseError) as whole:
            client(server).chat(model="qwen2.5:14b", messages=USER, stream=False)
        assert whole.value.status_code == 500


def test_empty_chat_only_loads_the_model(ollama_server: OllamaProtocolServer) -> None:
    url = f"{ollama_server.url}/api/chat"
    loaded = httpx.post(url, json={"model": "qwen2.5:14b", "messages": []}).json()
    assert (loaded["done"], loaded["done_reason"], loaded["message"]) == (
        True,
        "load",
        {"role": "assistant", "content": ""},
    )
    unloaded = httpx.post(url, json={"model": "qwen2.5:14b", "keep_alive": 0}).json()
    assert unloaded["done_reason"] == "unload"
