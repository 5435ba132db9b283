"""The Embedder interface and the nomic task prefixes every implementation shares."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

Vector = list[float]

# nomic-embed-text was trained with task prefixes; leaving them out costs several points of recall.
DOCUMENT_PREFIX = "search_document: "
QUERY_PREFIX = "search_query: "


def uses_nomic_prefixes(model: str) -> bool:
    return "nomic" in model.lower()


class Embedder(Protocol):
    """Turns texts into dense vectors. One job each: documents for indexing, a query for searching."""

    @property
    def name(self) -> str:
        """Stable identifier recorded in the store, e.g. ``ollama:nomic-embed-text``."""
        ...

    @property
    def dimension(self) -> int: ...

    @property
    def max_tokens(self) -> int:
        """The model's input window; longer input is truncated by the model, so chunks stay below it."""
        ...

    def count_tokens(self, text: str) -> int: ...

    def embed_documents(self, texts: Sequence[str]) -> list[Vector]: ...

    def embed_query(self, text: str) -> Vector: ...

    def close(self) -> None: ...


class ForwardingEmbedder:
    """An embedder that passes every call to another one; subclasses override what they change or
    observe (rag eval's embedding cache; the tests count calls and the benchmarks time them)."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    @property
    def max_tokens(self) -> int:
        return self.inner.max_tokens

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def embed_documents(self, texts: Sequence[str]) -> list[Vector]:
        return self.inner.embed_documents(texts)

    def embed_query(self, text: str) -> Vector:
        return self.inner.embed_query(text)

    def close(self) -> None:
        self.inner.close()


class PrefixMixin:
    """Adds the nomic task prefixes when the model needs them."""

    _prefixed: bool

    def _documents(self, texts: Sequence[str]) -> list[str]:
        return [DOCUMENT_PREFIX + t for t in texts] if self._prefixed else list(texts)

    def _query(self, text: str) -> str:
        return QUERY_PREFIX + text if self._prefixed else text
