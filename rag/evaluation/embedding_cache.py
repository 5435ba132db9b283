"""`rag eval --embedding-cache FILE`: keep the vectors of texts already embedded, across runs.

Comparing fusion methods, keyword analysis or gate settings re-indexes the same texts each time; with
the cache only texts that changed (a new chunk size, say) are embedded again. Keyed by the embedder's
name and the text's sha256, so a different model never reuses another's vectors.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from rag.embedding import Embedder
from rag.embedding.base import ForwardingEmbedder, Vector


class CachedEmbedder(ForwardingEmbedder):
    def __init__(self, inner: Embedder, path: Path) -> None:
        super().__init__(inner)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False)
        self._db.execute("CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, vector BLOB)")

    def _key(self, kind: str, text: str) -> str:
        return hashlib.sha256(f"{self.inner.name}\0{kind}\0{text}".encode()).hexdigest()

    def _cached(
        self, kind: str, texts: Sequence[str], embed: Callable[[list[str]], list[Vector]]
    ) -> list[Vector]:
        keys = [self._key(kind, t) for t in texts]
        found: dict[str, Vector] = {}
        for start in range(0, len(keys), 500):
            part = keys[start : start + 500]
            rows = self._db.execute(
                f"SELECT key, vector FROM vectors WHERE key IN ({','.join('?' * len(part))})", part
            ).fetchall()
            found.update({k: np.frombuffer(v, dtype=np.float32).tolist() for k, v in rows})
        missing = [i for i, k in enumerate(keys) if k not in found]
        if missing:
            vectors = embed([texts[i] for i in missing])
            self._db.executemany(
                "INSERT OR REPLACE INTO vectors VALUES (?, ?)",
                [
                    (keys[i], np.asarray(v, dtype=np.float32).tobytes())
                    for i, v in zip(missing, vectors, strict=True)
                ],
            )
            self._db.commit()
            found.update({keys[i]: list(v) for i, v in zip(missing, vectors, strict=True)})
        return [found[k] for k in keys]

    def embed_documents(self, texts: Sequence[str]) -> list[Vector]:
        return self._cached("document", texts, self.inner.embed_documents)

    def embed_query(self, text: str) -> Vector:
        return self._cached("query", [text], lambda t: [self.inner.embed_query(t[0])])[0]

    def close(self) -> None:
        self._db.close()
        super().close()
