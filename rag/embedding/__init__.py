"""Embedders: Ollama (production, nomic-embed-text) and in-process (sentence-transformers and the
packaged models)."""

from __future__ import annotations

from rag.config import Settings
from rag.embedding.base import Embedder, Vector

__all__ = ["Embedder", "Vector", "make_embedder"]


def make_embedder(settings: Settings) -> Embedder:
    """Build the embedder named by RAG_EMBEDDER, with the last RAG_QUERY_CACHE_SIZE query vectors kept.
    Models load lazily, on first use."""
    embedder = _model_embedder(settings)
    if settings.query_cache_size == 0:
        return embedder
    from rag.embedding.query_cache import QueryCache

    return QueryCache(embedder, settings.query_cache_size)


def _model_embedder(settings: Settings) -> Embedder:
    ref = settings.embedder_ref
    if ref.kind == "ollama":
        from rag.embedding.ollama import OllamaEmbedder

        return OllamaEmbedder(
            model=ref.name,
            host=settings.ollama_host,
            batch_size=settings.embed_batch_size,
            timeout_s=settings.request_timeout_s,
        )
    from rag.embedding.local import local_embedder

    return local_embedder(ref.name, batch_size=settings.embed_batch_size)
