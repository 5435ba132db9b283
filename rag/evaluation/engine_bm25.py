"""The keyword search this project had before its own analysis (rag/sparse.py): Qdrant's built-in BM25
tokenizer (``qdrant_edge.Bm25``), scored with the engine's IDF over the same chunks. `rag eval` ranks
with it beside the current analysis, so the old and the new keyword search are compared in one run on
one index (the old one splits on spaces: a Chinese or Japanese sentence is a single token).
"""

from __future__ import annotations

import heapq
import math
from collections import defaultdict
from collections.abc import Sequence

import qdrant_edge as qe

from rag.types import Chunk, Hit


class EngineTokenizerBm25:
    def __init__(self, chunks: Sequence[Chunk]) -> None:
        self._chunks = list(chunks)
        self._bm25 = qe.Bm25()
        self._postings: dict[int, list[tuple[int, float]]] = defaultdict(list)
        for row, chunk in enumerate(self._chunks):
            vector = self._bm25.embed_document(chunk.embed_text)
            for term, value in zip(vector.indices, vector.values, strict=True):
                self._postings[term].append((row, value))
        n = len(self._chunks)
        # Qdrant's IDF modifier: ln((N - n + 0.5) / (n + 0.5) + 1), n the chunks holding the term.
        self._idf = {
            term: math.log((n - len(rows) + 0.5) / (len(rows) + 0.5) + 1)
            for term, rows in self._postings.items()
        }

    def search(self, query: str, limit: int) -> list[Hit]:
        vector = self._bm25.embed_query(query)
        scores: dict[int, float] = defaultdict(float)
        for term, weight in zip(vector.indices, vector.values, strict=True):
            idf = self._idf.get(term, 0.0)
            for row, value in self._postings.get(term, ()):
                scores[row] += weight * idf * value
        best = heapq.nlargest(limit, scores.items(), key=lambda item: item[1])
        return [Hit(self._chunks[row], score) for row, score in best]
