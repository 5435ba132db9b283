"""Optional cross-encoder reranking of retrieved passages (RAG_RERANKER)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from rag.embedding.local import resolve_model_path
from rag.types import Hit


class CrossEncoderReranker:
    """Scores (question, passage) pairs jointly: slower than the bi-encoder, better at fine order."""

    def __init__(self, model: str) -> None:
        self.name = model
        self._model: Any = None

    def rerank(self, query: str, hits: Sequence[Hit]) -> list[Hit]:
        if not hits:
            return []
        scores = self._loaded().predict([(query, hit.chunk.text) for hit in hits], show_progress_bar=False)
        rescored = [Hit(hit.chunk, float(score)) for hit, score in zip(hits, scores, strict=True)]
        return sorted(rescored, key=lambda h: h.score, reverse=True)

    def _loaded(self) -> Any:
        if self._model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            from sentence_transformers import CrossEncoder

            self._model = CrossEncoder(resolve_model_path(self.name), device="cpu")
        return self._model
