"""Answers from Ollama's native chat API through the official `ollama` client."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
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

    def _translate(self) -> AbstractContextManager[None]:
        return _ollama_errors(self._host, self._model)


@contextmanager
def _ollama_errors(host: str, model: str) -> Iterator[None]:
    """Translate the ollama client's and httpx's exceptions into ours, naming the host and the fix."""
    try:
        yield
    except ollama.ResponseError as exc:
        if exc.status_code == 404:
            raise ModelNotFoundError(
                f"The model {model!r} is not pulled on the Ollama at {host}: "
                f"run `ollama pull {model}`, or set RAG_LLM to a model you have."
            ) from exc
        raise LLMUnavailableError(f"Ollama at {host} refused the request: {exc.error}") from exc
    except (httpx.RemoteProtocolError, httpx.ReadError) as exc:
        raise LLMUnavailableError(
            f"The answer stream from Ollama at {host} broke off ({exc}); try again."
        ) from exc
    except httpx.TimeoutException as exc:
        raise LLMUnavailableError(
            f"Ollama at {host} did not answer in time; raise RAG_REQUEST_TIMEOUT_S or use a smaller model."
        ) from exc
    except (httpx.TransportError, ConnectionError) as exc:
        raise LLMUnavailableError(
            f"Ollama is not reachable at {host}: start it with `ollama serve` (and "
            f"`ollama pull {model}`), point OLLAMA_HOST at it, or set RAG_LLM."
        ) from exc
