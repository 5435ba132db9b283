"""The knowledge base: one embedder and one store, opened lazily and closed together.

The CLI, the API and the watcher all go through this object, so they share one way to open things.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rag.config import Settings
from rag.embedding import Embedder, make_embedder
from rag.fusion import Fusion
from rag.retrieval import Retriever
from rag.store import VectorStore, open_store
from rag.types import StoreSpec

if TYPE_CHECKING:
    from rag.answer import AnswerService
    from rag.generation import Generator


class KnowledgeBase:
    def __init__(
        self, settings: Settings, embedder: Embedder | None = None, store: VectorStore | None = None
    ) -> None:
        """``embedder`` and ``store`` are normally built from ``settings``; pass them to share a loaded
        model or to wrap one (the benchmarks time calls through a wrapper)."""
        self.settings = settings
        self._embedder = embedder
        self._owns_embedder = embedder is None  # a borrowed embedder is its lender's to close
        self._store: VectorStore | None = store
        self._generator: Generator | None = None
        self._generator_built = False
        self._answers: AnswerService | None = None

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = make_embedder(self.settings)
        return self._embedder

    @property
    def store(self) -> VectorStore:
        """The store, created for this embedder if needed; refuses a store built by another embedder."""
        if self._store is None:
            spec = StoreSpec(self.embedder.name, self.embedder.dimension)
            self._store = open_store(self.settings, spec)
        return self._store

    def existing_store(self) -> VectorStore:
        """The store as it is, without loading the embedder (listing or removing documents)."""
        if self._store is None:
            self._store = open_store(self.settings, None)
        return self._store

    def retriever(self) -> Retriever:
        s = self.settings
        fusion = Fusion(s.fusion, s.rrf_k, s.fusion_dense_weight, s.fusion_sparse_weight)
        return Retriever(self.embedder, self.store, s.prefetch_k, fusion)

    @property
    def generator(self) -> Generator | None:
        """The answering LLM (None with RAG_LLM=none). Built on first use; nothing connects yet."""
        if not self._generator_built:
            from rag.generation import make_generator

            self._generator = make_generator(self.settings)
            self._generator_built = True
        return self._generator

    def answer_service(self) -> AnswerService:
        """Built once: the reranker loads its model on first use and must not do so per request."""
        if self._answers is None:
            from rag.answer import AnswerService
            from rag.rerank import CrossEncoderReranker

            reranker = CrossEncoderReranker(self.settings.reranker) if self.settings.reranker else None
            self._answers = AnswerService(
                self.settings, self.retriever(), self.generator, self.embedder.name, reranker
            )
        return self._answers

    def reset_store(self) -> None:
        """Drop every chunk (the source files are untouched) so the next write re-creates the store."""
        store = self.existing_store()
        store.drop()
        store.close()
        self._store = None
        self._answers = None  # its retriever holds the dropped store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None
        if self._embedder is not None and self._owns_embedder:
            self._embedder.close()
        if self._generator is not None:
            self._generator.close()
            self._generator = None
        self._generator_built = False
        self._answers = None
