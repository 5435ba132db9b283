"""Answers from Ollama's native chat API through the official `ollama` client."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import httpx
import ollama

from rag.errors import LLMUnavailableError, ModelNotFoundError
from rag.generation.base import Message


class OllamaGenerator:
    def __init__(
        self,
        model: str,
        host: str,
        *,
        num_ctx: int,
        temperature: float,
        keep_alive: str,
        timeout_s: float,
    ) -> None:
        self._model = model
        self._host = host
        self._client = ollama.Client(host=host, timeout=timeout_s)
        self._keep_alive = keep_alive
        # Ollama's default window (2048-4096 tokens) silently cuts long prompts from the front, which
        # drops the instructions and the first sources; ask for the window the prompt was budgeted for.
        self._options = {"num_ctx": num_ctx, "temperature": temperature}

    @property
    def name(self) -> str:
        return f"ollama:{self._model}"

    def generate(self, messages: Sequence[Message], max_tokens: int) -> str:
        with self._translate():
            response = self._client.chat(**self._request(messages, max_tokens, stream=False))
        return str(response["message"]["content"] or "")

    def stream(self, messages: Sequence[Message], max_tokens: int) -> Iterator[str]:
        with self._translate():
            for part in self._client.chat(**self._request(messages, max_tokens, stream=True)):
                piece = part["message"]["content"] or ""
                if piece:
                    yield piece

    def check(self) -> None:
        with self._translate():
            self._client.show(self._model)

    def close(self) -> None:
        self._client._client.close()

    def _request(self, messages: Sequence[Message], max_tokens: int, stream: bool) -> dict[str, Any]:
        return {
            "model": self._model,
            "messages": [m.as_dict() for m in messages],
            "stream": stream,
            "options": {**self._options, "num_predict": max_tokens},
            "keep_alive": self._keep_alive,
        }

    def _translate(self) -> _OllamaErrors:
        return _OllamaErrors(self._host, self._model)


class _OllamaErrors:
    def __init__(self, host: str, model: str) -> None:
        self._host = host
        self._model = model

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        if exc is None:
            return
        if isinstance(exc, ollama.ResponseError):
            if exc.status_code == 404:
                raise ModelNotFoundError(
                    f"The model {self._model!r} is not pulled on the Ollama at {self._host}: "
                    f"run `ollama pull {self._model}`, or set RAG_LLM to a model you have."
                ) from exc
            raise LLMUnavailableError(f"Ollama at {self._host} refused the request: {exc.error}") from exc
        if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError):
            raise LLMUnavailableError(
                f"The answer stream from Ollama at {self._host} broke off ({exc}); try again."
            ) from exc
        if isinstance(exc, httpx.TimeoutException):
            raise LLMUnavailableError(
                f"Ollama at {self._host} did not answer in time; raise RAG_REQUEST_TIMEOUT_S or use a "
                "smaller model."
            ) from exc
        if isinstance(exc, httpx.TransportError | ConnectionError):
            raise LLMUnavailableError(
                f"Ollama is not reachable at {self._host}: start it with `ollama serve` (and "
                f"`ollama pull {self._model}`), point OLLAMA_HOST at it, or set RAG_LLM."
            ) from exc
