"""The Embedder interface and the task prefixes every implementation shares."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

Vector = list[float]


@dataclass(frozen=True, slots=True)
class TaskPrefixes:
    """What a retrieval model was trained to see in front of a document and in front of a query.
    Leaving a trained prefix out costs several points of recall, and so does adding one to a model
    that was trained without."""

    document: str = ""
    query: str = ""


NO_PREFIXES = TaskPrefixes()
NOMIC_PREFIXES = TaskPrefixes(document="search_document: ", query="search_query: ")
E5_PREFIXES = TaskPrefixes(document="passage: ", query="query: ")

# Matched in order against the model's own name (see model_basename); the first match wins, and a
# model that matches nothing gets its text as it is. The Ollama and the in-process embedders both use
# this table, so a model gets the same prefixes whoever runs it. From the model cards:
_TASK_PREFIXES: tuple[tuple[re.Pattern[str], TaskPrefixes], ...] = (
    # nomic-embed-text v1 and v1.5 (English) and nomic-embed-text-v2-moe (multilingual).
    (re.compile(r"nomic"), NOMIC_PREFIXES),
    # multilingual-e5-small/base/large and e5-*-v2. The -instruct variants take a task instruction
    # before the query instead, which this table does not model: they fall through to no prefixes.
    (re.compile(r"(?:^|[^a-z0-9])e5-(?:small|base|large)(?!.*instruct)"), E5_PREFIXES),
    # bge-m3 needs no instruction on either side (unlike the English bge-*-v1.5 models); listed so
    # that the choice is visible, not a fall-through.
    (re.compile(r"bge-m3"), NO_PREFIXES),
)


def model_basename(model: str) -> str:
    """A model's own name, lower case, without registry path, local directory or Ollama tag:
    ``nomic-embed-text-v2-moe`` for ``library/nomic-embed-text-v2-moe:latest``."""
    name = model.strip().rstrip("/").rsplit("/", 1)[-1].lower()
    return name.split(":", 1)[0] or name


# Embedders trained on English text only. For a question written in Chinese, Japanese or Korean their
# similarity is noise: measured on the CJK dev sets (tests/devsets/ko, ja, zh) with all-MiniLM-L6-v2,
# dense recall@5 was 0.32 / 0.67 / 0.75 against BM25's 0.96, and fusing it in pulled hybrid down to
# 0.48 / 0.85 / 0.88. Hybrid search leans on the keyword side for such questions (rag/retrieval.py).
_ENGLISH_ONLY = re.compile(
    r"^(?:all-minilm|all-mpnet|nomic-embed-text(?:-v1(?:\.5)?)?$|mxbai-embed-large|bge-(?:small|base|large)-en"
    r"|snowflake-arctic-embed(?!.*-m-v2|2))"
)


def reads_only_english(model: str) -> bool:
    """Whether the named embedding model was trained on English text only."""
    return bool(_ENGLISH_ONLY.search(model_basename(model)))


def task_prefixes(model: str) -> TaskPrefixes:
    """The task prefixes the named model (Ollama name, hub id or local path) was trained with."""
    name = model_basename(model)
    for pattern, prefixes in _TASK_PREFIXES:
        if pattern.search(name):
            return prefixes
    return NO_PREFIXES


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
    """Puts the model's task prefixes (task_prefixes) in front of documents and queries."""

    _prefixes: TaskPrefixes

    def _documents(self, texts: Sequence[str]) -> list[str]:
        return [self._prefixes.document + t for t in texts]

    def _query(self, text: str) -> str:
        return self._prefixes.query + text
