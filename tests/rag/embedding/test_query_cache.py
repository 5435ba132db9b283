"""Repeated questions are answered from the query cache; documents always reach the model."""

from __future__ import annotations

from collections.abc import Sequence

from support.fakes import HashingEmbedder

from rag.config import Settings
from rag.embedding import make_embedder
from rag.embedding.base import Vector
from rag.embedding.ollama import OllamaEmbedder
from rag.embedding.query_cache import QueryCache


class Counted(HashingEmbedder):
    def __init__(self) -> None:
        super().__init__()
        self.queries: list[str] = []

    def embed_query(self, text: str) -> Vector:
        self.queries.append(text)
        return super().embed_query(text)

    def embed_documents(self, texts: Sequence[str]) -> list[Vector]:
        return super().embed_documents(texts)


def test_a_repeated_query_is_embedded_once_and_the_oldest_is_dropped() -> None:
    model = Counted()
    cache = QueryCache(model, size=2)
    first = cache.embed_query("vpn gateway")
    first.append(99.0)  # a caller changing its copy changes nothing for the next one
    assert cache.embed_query("vpn gateway") == model.embed_query("vpn gateway")
    cache.embed_query("per diem")
    cache.embed_query("parking")  # drops "vpn gateway", the least recently used
    cache.embed_query("per diem")
    cache.embed_query("vpn gateway")
    assert model.queries == ["vpn gateway", "vpn gateway", "per diem", "parking", "vpn gateway"]
    assert cache.hits == 2
    assert cache.embed_documents(["a text"]) == model.embed_documents(["a text"])
    assert (cache.name, cache.dimension) == (model.name, model.dimension)


def test_the_cache_size_setting_wraps_the_embedder_or_not() -> None:
    cached = make_embedder(Settings(embedder="ollama:nomic-embed-text", _env_file=None))  # type: ignore[call-arg]
    assert isinstance(cached, QueryCache) and isinstance(cached.inner, OllamaEmbedder)
    plain = make_embedder(
        Settings(embedder="ollama:nomic-embed-text", query_cache_size=0, _env_file=None)  # type: ignore[call-arg]
    )
    assert isinstance(plain, OllamaEmbedder)
