"""Answers from any OpenAI-compatible chat endpoint: llama.cpp server, vLLM, LM Studio, Ollama's /v1."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import openai

from rag.errors import LLMUnavailableError, ModelNotFoundError
from rag.generation.base import Message


class OpenAICompatibleGenerator:
    def __init__(
        self, model: str, base_url: str, *, api_key: str | None, temperature: float, timeout_s: float
    ) -> None:
        self._model = model
        self._base_url = base_url
        # Local servers ignore the key, but the client insists on one.
        self._client = openai.OpenAI(
            base_url=base_url, api_key=api_key or "not-needed", timeout=timeout_s, max_retries=0
        )
        self._temperature = temperature

    @property
    def name(self) -> str:
        return f"openai:{self._model}"

    def generate(self, messages: Sequence[Message], max_tokens: int) -> str:
        with self._translate():
            response = self._client.chat.completions.create(
                **self._request(messages, max_tokens), stream=False
            )
        return response.choices[0].message.content or ""

    def stream(self, messages: Sequence[Message], max_tokens: int) -> Iterator[str]:
        with self._translate():
            for chunk in self._client.chat.completions.create(
                **self._request(messages, max_tokens), stream=True
            ):
                if chunk.choices and chunk.choices[0].delta.content:
                    yield chunk.choices[0].delta.content

    def check(self) -> None:
        with self._translate():
            models = {m.id for m in self._client.models.list()}
        if models and self._model not in models:
            raise ModelNotFoundError(
                f"The endpoint at {self._base_url} serves {sorted(models)}, not {self._model!r}: fix RAG_LLM."
            )

    def close(self) -> None:
        self._client.close()

    def _request(self, messages: Sequence[Message], max_tokens: int) -> dict[str, Any]:
        return {
            "model": self._model,
            "messages": [m.as_dict() for m in messages],
            "temperature": self._temperature,
            "max_tokens": max_tokens,
        }

    def _translate(self) -> AbstractContextManager[None]:
        return _openai_errors(self._base_url, self._model)


@contextmanager
def _openai_errors(base_url: str, model: str) -> Iterator[None]:
    """Translate the openai client's exceptions into ours, naming the endpoint and the fix."""
    try:
        yield
    except openai.NotFoundError as exc:
        raise ModelNotFoundError(
            f"The endpoint at {base_url} has no model {model!r}: check RAG_LLM "
            "(for Ollama's /v1: `ollama pull` it first)."
        ) from exc
    except openai.AuthenticationError as exc:
        raise LLMUnavailableError(
            f"The endpoint at {base_url} rejected the API key: set RAG_LLM_API_KEY."
        ) from exc
    except openai.APITimeoutError as exc:
        raise LLMUnavailableError(
            f"The LLM at {base_url} did not answer in time; raise RAG_REQUEST_TIMEOUT_S."
        ) from exc
    except openai.APIConnectionError as exc:
        raise LLMUnavailableError(
            f"The LLM endpoint {base_url} is not reachable: start the server, or fix "
            "RAG_LLM_BASE_URL / RAG_LLM."
        ) from exc
    except openai.APIError as exc:
        raise LLMUnavailableError(f"The LLM at {base_url} failed: {exc}") from exc
