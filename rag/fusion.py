"""Fuse the dense and the keyword ranking of the same question into one list.

Done here rather than inside the engine so that both stores fuse identically and every method can be
measured side by side by `rag eval` on the same two rankings.

- ``rrf``: reciprocal-rank fusion, sum of w / (k + rank). With the paper's k = 60 the first and the
  tenth place differ by little, so a passage both retrievers half-like beats one retriever's clear
  winner; a small k keeps each retriever's top places on top.
- ``dbsf``: distribution-based score fusion (as in Qdrant): each list's scores scaled by its mean
  +- 3 standard deviations, then summed with the weights.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from rag.types import Hit

FusionMethod = Literal["rrf", "dbsf"]


@dataclass(frozen=True, slots=True)
class Fusion:
    method: FusionMethod = "rrf"
    k: int = 60  # rrf only
    dense_weight: float = 1.0
    sparse_weight: float = 1.0

    @property
    def label(self) -> str:
        weights = (
            ""
            if self.dense_weight == self.sparse_weight
            else f" w={self.dense_weight:g}/{self.sparse_weight:g}"
        )
        return (f"rrf k={self.k}" if self.method == "rrf" else "dbsf") + weights

    def fuse(self, dense: Sequence[Hit], sparse: Sequence[Hit], limit: int) -> list[Hit]:
        lists = ((dense, self.dense_weight), (sparse, self.sparse_weight))
        scores: dict[str, float] = {}
        chunks: dict[str, Hit] = {}
        for hits, weight in lists:
            contributions = self._rrf(hits) if self.method == "rrf" else _dbsf(hits)
            for hit, value in zip(hits, contributions, strict=True):
                key = hit.chunk.chunk_id
                scores[key] = scores.get(key, 0.0) + weight * value
                chunks.setdefault(key, hit)
        ranked = sorted(scores, key=lambda key: -scores[key])[:limit]
        return [Hit(chunks[key].chunk, round(scores[key], 6)) for key in ranked]

    def _rrf(self, hits: Sequence[Hit]) -> list[float]:
        return [1.0 / (self.k + rank) for rank in range(1, len(hits) + 1)]


def _dbsf(hits: Sequence[Hit]) -> list[float]:
    if not hits:
        return []
    values = [h.score for h in hits]
    if len(values) == 1:
        return [1.0]
    mean, spread = statistics.fmean(values), 3 * statistics.pstdev(values)
    if spread == 0:
        return [1.0] * len(values)
    low, high = mean - spread, mean + spread
    return [min(1.0, max(0.0, (v - low) / (high - low))) for v in values]
