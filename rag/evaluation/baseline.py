"""The naive pipeline every report is measured against, built in the same run on the same documents.

What a quick RAG set-up does: plain text of each file, fixed 800-character windows (100 shared),
rank-bm25 over lower-cased whitespace tokens, the same embedder over the same windows, and reciprocal
rank fusion (k = 60) of the two rankings. No parser, no headings, no analysis: if the product does not
beat this, its extra machinery is not earning its keep. The plain text comes from
ingest/evaluation.py (reading files is not the core's job).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from rag.embedding import Embedder
from rag.errors import InputError

WINDOW_CHARS = 800
OVERLAP_CHARS = 100
RRF_K = 60


def windows(text: str) -> list[str]:
    text = re.sub(r"\s+", " ", text).strip()
    step = WINDOW_CHARS - OVERLAP_CHARS
    return [text[i : i + WINDOW_CHARS] for i in range(0, max(1, len(text) - OVERLAP_CHARS), step)]


class NaiveBaseline:
    def __init__(
        self,
        documents: Iterable[tuple[str, str]],
        embedder: Embedder,
        on_progress: Callable[[int, int | None, str], None] | None = None,
    ) -> None:
        """``documents``: (document key, plain text) pairs."""
        try:
            from rank_bm25 import BM25Okapi
        except ImportError as exc:
            raise InputError(
                "The naive baseline needs rank-bm25: pip install 'private-rag[eval]' "
                "(or leave out --baseline)."
            ) from exc
        self._embedder = embedder
        self._passages: list[tuple[str, str]] = [
            (key, window) for key, text in documents for window in windows(text) if window.strip()
        ]
        self._bm25 = BM25Okapi([text.lower().split() for _, text in self._passages])
        vectors: list[Sequence[float]] = []
        texts = [text for _, text in self._passages]
        for start in range(0, len(texts), 64):
            vectors.extend(embedder.embed_documents(texts[start : start + 64]))
            if on_progress:
                on_progress(min(start + 64, len(texts)), len(texts), "baseline windows")
        matrix = np.asarray(vectors, dtype=np.float32)
        self._vectors = matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)

    def __str__(self) -> str:
        return (
            f"{WINDOW_CHARS}-char windows ({OVERLAP_CHARS} overlap, {len(self._passages)} windows), "
            f"rank-bm25 + {self._embedder.name}, RRF k={RRF_K}"
        )

    @property
    def passages(self) -> int:
        return len(self._passages)

    def search(self, query: str, limit: int) -> list[tuple[str, str]]:
        """RRF of rank-bm25 and the embedder over the windows: the naive hybrid."""
        query_vector = np.asarray(self._embedder.embed_query(query), dtype=np.float32)
        dense = np.argsort(-(self._vectors @ query_vector))[:limit]
        fused: dict[int, float] = {}
        for ranking in (dense, self._bm25_ranking(query, limit)):
            for rank, index in enumerate(ranking, start=1):
                fused[int(index)] = fused.get(int(index), 0.0) + 1.0 / (RRF_K + rank)
        best = sorted(fused, key=lambda i: -fused[i])[:limit]
        return [self._passages[i] for i in best]

    def search_bm25(self, query: str, limit: int) -> list[tuple[str, str]]:
        """rank-bm25 alone over the windows: the reference our own BM25 is measured against."""
        return [self._passages[int(i)] for i in self._bm25_ranking(query, limit)]

    def _bm25_ranking(self, query: str, limit: int) -> Any:
        return np.argsort(-self._bm25.get_scores(query.lower().split()))[:limit]
