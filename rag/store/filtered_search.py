"""How a dense search should walk the index, chosen from how much of the store its filter passes.

A filter cuts the HNSW graph: the walk may only step on points the filter passes, and when those are
a minority spread over tightly clustered topics, it is stranded in the wrong topic and returns none of
the true nearest points. Qdrant adds graph links per keyword value, but only for values rarer than a
few % of a segment, so the common case, every reader holding ``group:everyone`` (~20% of chunks) plus
a few groups, gets none (bench/README.md, "Permission-filtered search").

Engine-neutral on purpose: the embedded store (edge.py) and the server store map a plan to their own
client's search params; the caller counts (approximately, ~0.1 ms) how many points the filter passes.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

# bench/access_filter.py, 1M chunks, 50 groups, 300 readers per kind, recall@10 against exact search
# with the same filter, p95 of hybrid retrieval against the unfiltered search in the same run:
#
# * a reader passing ~24% of chunks: plain HNSW 0.88 (one query in ten found none of the true top 10;
#   hnsw_ef 1024 only reached 0.91); ACORN (the walk also looks at neighbours' neighbours, stepping over
#   points the filter rules out) at hnsw_ef 64: 0.992 at 1.16x. ACORN at hnsw_ef 256 is as accurate
#   but 8.7-16x slower, hence its own, smaller ef.
# * ~49%: plain HNSW 0.997 at 0.93x: enough of the graph is walkable, ACORN only costs time.
# * ~4% (40k points): plain HNSW 0.965 at 1.18x, exact search 1.000 at 1.5-2.0x: HNSW meets the
#   recall target (0.95) and exact breaks the latency one (1.5x), and a scan grows with the store.
#   ACORN at hnsw_ef 64 is slower and less accurate there (0.92) than plain HNSW.
# * By share within that reader (first product run): plain HNSW was already at 1.000 for 5-20%, so ACORN
#   starts at 15%, where the stranding (a common label such as group:everyone, which gets no per-value
#   graph links) begins; with 5% and 20k points below, that reader paid 1.49x plain HNSW's p95, with
#   15% and 10k 1.15x (recall 0.978 -> 0.970), bench/README.md "After".
ACORN_FROM_SHARE = 0.15
ACORN_UP_TO_SHARE = 0.35
ACORN_HNSW_EF = 64
# A scan costs what it reads, not a share: exact search at 1M unfiltered took 160 ms, ~0.16 us a point,
# so 10k points cost ~2 ms, below HNSW's own unfiltered p50 at 1M. Below this, exact recall is free; at
# 100k chunks the ~4% reader (4k points) had 0.93 with HNSW and 1.00 exact at 3.9 ms p95.
EXACT_UP_TO_POINTS = 10_000


class DenseMethod(Enum):
    HNSW = "hnsw"  # the graph walk, the filter checked on each point reached
    ACORN = "acorn"  # the graph walk stepping over points the filter rules out
    EXACT = "exact"  # score every point the filter passes


@dataclass(frozen=True, slots=True)
class DensePlan:
    method: DenseMethod
    hnsw_ef: int | None  # None for exact search


def plan_dense_search(matching: int | None, total: int, hnsw_ef: int) -> DensePlan:
    """The dense search for a filter passing about ``matching`` of ``total`` points (``None``: no filter).

    ``hnsw_ef`` is the store's configured breadth for plain HNSW search; the counts may be estimates.
    """
    if matching is None or total <= 0:
        return DensePlan(DenseMethod.HNSW, hnsw_ef)
    if matching <= EXACT_UP_TO_POINTS:
        return DensePlan(DenseMethod.EXACT, None)
    share = matching / total
    if ACORN_FROM_SHARE <= share <= ACORN_UP_TO_SHARE:
        return DensePlan(DenseMethod.ACORN, ACORN_HNSW_EF)
    return DensePlan(DenseMethod.HNSW, hnsw_ef)
