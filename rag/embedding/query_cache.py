"""Query vectors kept for repeated questions: the same question asked again (a retry, a dashboard, a
team asking the FAQ of the week) is answered without running the model."""

from __future__ import annotations

import threading
from collections import OrderedDict

from rag.embedding.base import Embedder, ForwardingEmbedder, Vector


class QueryCache(ForwardingEmbedder):
    """The last ``size`` query vectors, least recently used dropped first. Documents pass through:
    they are embedded once per ingest anyway."""

    def __init__(self, inner: Embedder, size: int) -> None:
        super().__init__(inner)
        self._size = size
        self._vectors: OrderedDict[str, Vector] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0

    def embed_query(self, text: str) -> Vector:
        with self._lock:
            vector = self._vectors.get(text)
            if vector is not None:
                self._vectors.move_to_end(text)
                self.hits += 1
                return list(vector)  # a copy: callers may change theirs
        vector = self.inner.embed_query(text)
        with self._lock:
            self._vectors[text] = list(vector)
            while len(self._vectors) > self._size:
                self._vectors.popitem(last=False)
        return vector
