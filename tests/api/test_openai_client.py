"""The official `openai` client, unmodified, chats with the knowledge base over real HTTP (uvicorn)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from api_support import (  # noqa: F401  (fixtures)
    API_KEY,
    FLIGHTS_QUESTION,
    FLIGHTS_SENTENCE,
    MODEL,
    api_settings_fixture,
    app_fixture,
    docs_fixture,
    live_url_fixture,
    serve,
    unreachable_url,
    upload,
)
from openai.types.chat import ChatCompletionMessageParam
from support.ollama_server import OllamaProtocolServer

from api.app import create_app
from rag.config import Settings
from rag.embedding.local import SentenceTransformerEmbedder
from rag.prompt import REFUSAL, WITHHELD_NOTICE


def client_for(live_url: str, api_key: str = API_KEY) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{live_url}/v1", api_key=api_key, max_retries=0, timeout=30)


def sources_line(n: int) -> str:
    return f'[{n}] travel.md, Travel > Flights: "{FLIGHTS_SENTENCE}"'


def test_models_list_names_the_knowledge_base(live_url: str) -> None:
    models = client_for(live_url).models.list()
    assert [(m.id, m.object, m.owned_by) for m in models.data] == [("private-rag", "model", "private-rag")]


def test_chat_completion_has_the_answer_a_sources_section_and_structured_citations(
    live_url: str, ollama_server: OllamaProtocolServer
) -> None:
    response = client_for(live_url).chat.completions.create(
        model="private-rag",
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": FLIGHTS_QUESTION},
        ],
        temperature=0.2,  # accepted and ignored
    )
    assert response.object == "chat.completion"
    assert response.model == "private-rag"
    assert response.id.startswith("chatcmpl-")
    (choice,) = response.choices
    assert (choice.index, choice.finish_reason, choice.message.role) == (0, "stop", "assistant")
    assert response.model_extra is not None
    citations: list[dict[str, Any]] = response.model_extra["citations"]
    (citation,) = citations
    n = citation["n"]
    assert choice.message.content == (
        f"Book flights at least 21 days before departure [{n}].\n\nSources:\n{sources_line(n)}"
    )
    assert Path(citation["source"]).name == "travel.md"
    assert citation["source"].endswith("/uploads/travel.md")
    assert (citation["quote"], citation["section"], citation["page"], citation["origin"]) == (
        FLIGHTS_SENTENCE,
        "Travel > Flights",
        None,
        "model",
    )
    # The system message is not the question: the model got our prompt with the user's question.
    (chat,) = [r.body for r in ollama_server.requests if r.path == "/api/chat"]
    assert chat["model"] == MODEL
    assert chat["messages"][-1]["content"].split("Question: ")[1].startswith(FLIGHTS_QUESTION)


def test_streamed_chat_completion_carries_the_answer_sources_and_citations(live_url: str) -> None:
    stream = client_for(live_url).chat.completions.create(
        model="private-rag", messages=[{"role": "user", "content": FLIGHTS_QUESTION}], stream=True
    )
    chunks = list(stream)  # ends cleanly at [DONE]
    assert all(c.object == "chat.completion.chunk" and c.model == "private-rag" for c in chunks)
    assert len({c.id for c in chunks}) == 1
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].finish_reason for c in chunks] == [None] * (len(chunks) - 1) + ["stop"]
    last = chunks[-1]
    assert last.model_extra is not None
    (citation,) = last.model_extra["citations"]
    n = citation["n"]
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert text == f"Book flights at least 21 days before departure [{n}].\n\nSources:\n{sources_line(n)}"
    assert len(chunks) > 5  # streamed token by token, not in one piece
    assert citation["source"].endswith("/uploads/travel.md")


def test_a_refusal_has_no_sources_section(live_url: str) -> None:
    response = client_for(live_url).chat.completions.create(
        model="private-rag", messages=[{"role": "user", "content": "What is the capital of Mongolia?"}]
    )
    assert response.choices[0].message.content == REFUSAL
    assert response.model_extra is not None and response.model_extra["citations"] == []


def test_an_answer_no_passage_supports_is_withheld_and_a_stream_says_so(
    live_url: str, ollama_server: OllamaProtocolServer
) -> None:
    ollama_server.respond = lambda messages: "Flights are booked by carrier pigeon from Lisbon [1]."
    client = client_for(live_url)
    messages: list[ChatCompletionMessageParam] = [{"role": "user", "content": FLIGHTS_QUESTION}]
    whole = client.chat.completions.create(model="private-rag", messages=messages)
    assert whole.choices[0].message.content == REFUSAL
    assert whole.model_extra is not None and whole.model_extra["citations"] == []
    # A stream has shown the tokens before the check: it ends by saying they are not to be relied on.
    chunks = list(client.chat.completions.create(model="private-rag", messages=messages, stream=True))
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert text == f"Flights are booked by carrier pigeon from Lisbon [1].\n\n{WITHHELD_NOTICE}"
    assert chunks[-1].model_extra is not None and chunks[-1].model_extra["citations"] == []


def test_wrong_api_key_raises_authentication_error(live_url: str) -> None:
    with pytest.raises(openai.AuthenticationError) as err:
        client_for(live_url, api_key="not-the-key").models.list()
    assert err.value.status_code == 401
    assert err.value.code == "unauthorized"
    assert err.value.body == {"code": "unauthorized", "message": "Invalid API key."}
    with pytest.raises(openai.AuthenticationError):
        client_for(live_url, api_key="not-the-key").chat.completions.create(
            model="private-rag", messages=[{"role": "user", "content": FLIGHTS_QUESTION}]
        )


def test_a_conversation_without_a_user_question_is_a_bad_request(live_url: str) -> None:
    with pytest.raises(openai.UnprocessableEntityError) as err:
        client_for(live_url).chat.completions.create(
            model="private-rag", messages=[{"role": "assistant", "content": "Hello!"}]
        )
    assert err.value.body == {
        "code": "invalid_input",
        "message": "The last message must be a non-empty user message: that is the question.",
    }


def test_unreachable_ollama_is_a_503_error_streamed_or_not(
    api_settings: Settings, minilm: SentenceTransformerEmbedder, docs: Path
) -> None:
    url = unreachable_url()
    app = create_app(api_settings.model_copy(update={"ollama_host": url}), embedder=minilm)
    with serve(app) as base_url:
        with httpx.Client(base_url=base_url, timeout=30) as http:
            assert upload(http, docs / "travel.md").status_code == 201
        client = client_for(base_url)
        messages: list[ChatCompletionMessageParam] = [{"role": "user", "content": FLIGHTS_QUESTION}]
        with pytest.raises(openai.InternalServerError) as plain:
            client.chat.completions.create(model="private-rag", messages=messages)
        with pytest.raises(openai.InternalServerError) as streamed:
            client.chat.completions.create(model="private-rag", messages=messages, stream=True)
    for err in (plain.value, streamed.value):
        assert err.status_code == 503
        assert err.code == "llm_unavailable"
        assert isinstance(err.body, dict)
        assert str(err.body["message"]).startswith(f"Ollama is not reachable at {url}: ")
