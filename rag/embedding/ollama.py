"""Embeddings from an Ollama server through its batched ``/api/embed`` endpoint."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx

from rag.embedding.base import PrefixMixin, Vector, model_basename, task_prefixes
from rag.errors import EmbedderUnavailableError, ModelNotFoundError
from rag.tokens import approx_token_count

# Ollama's default context is far below nomic-embed-text's 8192 tokens and it truncates silently;
# we ask for a window comfortably above our largest chunk instead, or the model's own if smaller.
_NUM_CTX = 2048

# The input window each model was trained for, by its own name (model_basename), from the model
# cards. A chunk longer than the window is cut by the model, so chunks are sized below it; a model not
# listed gets _NUM_CTX.
MODEL_WINDOWS = {
    "nomic-embed-text": 8192,  # v1.5: 768 dimensions, English
    "nomic-embed-text-v2-moe": 512,  # 768 dimensions, ~100 languages; the MoE model trades length away
    "bge-m3": 8192,  # 1024 dimensions, 100+ languages
}


class OllamaEmbedder(PrefixMixin):
    def __init__(self, model: str, host: str, batch_size: int = 32, timeout_s: float = 120.0) -> None:
        self._model = model
        self._host = host
        self._batch_size = batch_size
        self._prefixes = task_prefixes(model)
        self._num_ctx = min(MODEL_WINDOWS.get(model_basename(model), _NUM_CTX), _NUM_CTX)
        self._client = httpx.Client(base_url=host, timeout=timeout_s)
        self._dimension: int | None = None

    @property
    def name(self) -> str:
        return f"ollama:{self._model}"

    @property
    def dimension(self) -> int:
        if self._dimension is None:
            self._dimension = len(self._embed([self._query("dimension probe")])[0])
        return self._dimension

    @property
    def max_tokens(self) -> int:
        return self._num_ctx

    def count_tokens(self, text: str) -> int:
        return approx_token_count(text)

    def embed_documents(self, texts: Sequence[str]) -> list[Vector]:
        prefixed = self._documents(texts)
        vectors: list[Vector] = []
        for start in range(0, len(prefixed), self._batch_size):
            vectors.extend(self._embed(prefixed[start : start + self._batch_size]))
        return vectors

    def embed_query(self, text: str) -> Vector:
        return self._embed([self._query(text)])[0]

    def close(self) -> None:
        self._client.close()

    def _embed(self, inputs: list[str]) -> list[Vector]:
        if not inputs:
            return []
        body: dict[str, Any] = {
            "model": self._model,
            "input": inputs,
            "truncate": True,
            "options": {"num_ctx": self._num_ctx},
        }
        try:
            response = self._client.post("/api/embed", json=body)
        except httpx.TransportError as exc:
            raise EmbedderUnavailableError(
                f"Ollama is not reachable at {self._host} ({exc.__class__.__name__}): start it with "
                "`ollama serve`, or point OLLAMA_HOST at it, or set RAG_EMBEDDER to another embedder."
            ) from exc
        if response.status_code == 404:
            raise ModelNotFoundError(
                f"The embedding model {self._model!r} is not available on the Ollama at {self._host}: "
                f"run `ollama pull {self._model}`."
            )
        if response.status_code != 200:
            raise EmbedderUnavailableError(
                f"Ollama at {self._host} answered {response.status_code} to an embedding request: "
                f"{_error_text(response)}"
            )
        embeddings = response.json().get("embeddings")
        if not isinstance(embeddings, list) or len(embeddings) != len(inputs):
            raise EmbedderUnavailableError(
                f"Ollama at {self._host} returned {len(embeddings or [])} embeddings for {len(inputs)} "
                "inputs; is it an Ollama server (0.3.4 or newer, with /api/embed)?"
            )
        return [[float(x) for x in vec] for vec in embeddings]


def _error_text(response: httpx.Response) -> str:
    try:
        return str(response.json().get("error", response.text))
    except ValueError:
        return response.text[:200]
