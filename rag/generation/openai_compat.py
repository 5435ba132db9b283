"""Answers from any OpenAI-compatible chat endpoint: llama.cpp server, vLLM, LM Studio, Ollama's /v1."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
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

    def _translate(self) -> _OpenAIErrors:
        return _OpenAIErrors(self._base_url, self._model)


class _OpenAIErrors:
    def __init__(self, base_url: str, model: str) -> None:
        self._base_url = base_url
        self._model = model

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        if exc is None:
            return
        if isinstance(exc, openai.NotFoundError):
            raise ModelNotFoundError(
                f"The endpoint at {self._base_url} has no model {self._model!r}: check RAG_LLM "
                "(for Ollama's /v1: `ollama pull` it first)."
            ) from exc
        if isinstance(exc, openai.AuthenticationError):
            raise LLMUnavailableError(
                f"The endpoint at {self._base_url} rejected the API key: set RAG_LLM_API_KEY."
            ) from exc
        if isinstance(exc, openai.APITimeoutError):
            raise LLMUnavailableError(
                f"The LLM at {self._base_url} did not answer in time; raise RAG_REQUEST_TIMEOUT_S."
            ) from exc
        if isinstance(exc, openai.APIConnectionError):
            raise LLMUnavailableError(
                f"The LLM endpoint {self._base_url} is not reachable: start the server, or fix "
                "RAG_LLM_BASE_URL / RAG_LLM."
            ) from exc
        if isinstance(exc, openai.APIError):
            raise LLMUnavailableError(f"The LLM at {self._base_url} failed: {exc}") from exc
