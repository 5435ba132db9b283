"""Permission-filtered hybrid search at 1M chunks: how much a caller's access filter costs, and whether
HNSW stays accurate under it.

Every chunk carries its document's access labels (payload ``access``, a keyword index); every search a
reader makes asks for chunks sharing a label with the caller (``Principal.scope``). A filter can cut an
HNSW graph into islands, so this measures, on one built EdgeStore (HNSW built by ``optimize``):

* latency of the product's hybrid retrieval (``Retriever.retrieve``: a dense and a BM25 ranking from
  ``EdgeStore.search``, fused) and of dense search, unfiltered and for three kinds of caller, each query
  through every search in turn (``bench.query.time_interleaved``) so machine noise falls on all alike;
* recall@10 (and @50, the depth hybrid fuses) of the product's filtered dense search against the
  shard's exact search with the same filter. The product picks its dense search per filter
  (rag/store/filtered_search.py: exact for a few points, ACORN, Qdrant's filtered traversal that steps
  over the nodes the filter rules out, for a middle share, plain HNSW otherwise);
* the same for plain filtered HNSW (``*_plain_*``), what the product sent before it chose per filter:
  the before/after in one run;
* that no search returns a chunk its caller may not read, and how much of the corpus each caller reads.

The corpus is bench/query.py's (clustered synthetic vectors, per-cluster vocabulary texts); documents
are labelled like a company's folders: 20% for everyone, most for one or two of ``--groups`` groups
(a few big, many small), a few private to one user.

    .venv/bin/python -m bench.access_filter --size 1000000 > build/bench-access-filter-1m.json

Prints one JSON object on stdout; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import itertools
import math
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import qdrant_edge as qe

from bench import query
from bench.common import emit, peak_rss_mib, progress
from bench.query import (
    COLLECTION,
    SPEC_EMBEDDER,
    TARGET_RECALL,
    TOP_K,
    Matrix,
    Query,
    Run,
    Search,
    SyntheticCorpus,
    build_edge,
    disk_usage,
    edge_settings,
    load_average,
    open_edge,
    ratio,
    raw_shard,
    recall_at_k,
    record_build,
    reused_build,
    row_of,
    time_interleaved,
)
from rag.access import EVERYONE, DocumentAccess, Principal, group_label
from rag.config import Settings
from rag.embedding.base import Vector
from rag.fusion import Fusion
from rag.retrieval import Retriever
from rag.store.base import SearchRequest
from rag.store.edge import EdgeStore
from rag.store.edge import _filter as edge_filter  # the filter the product's searches send
from rag.store.filtered_search import DenseMethod
from rag.types import SearchFilters, StoreSpec

Masks = npt.NDArray[np.uint64]

# Caller kinds. "unfiltered" is the baseline: what an admin's search (no access condition) costs.
UNFILTERED, FEW, SELECTIVE, MANY = "unfiltered", "few_groups", "selective", "many_groups"
FILTERED = (FEW, SELECTIVE, MANY)
KINDS = (UNFILTERED, *FILTERED)
EVERYONE_BIT = 63  # groups take bits 0..62 of a document's label mask
TARGET_P95_RATIO = 1.5  # the issue: filtered p95 within 1.5x of unfiltered


@dataclass(frozen=True)
class Config:
    size: int = 1_000_000
    groups: int = 50
    queries: int = 300
    warmup: int = 10
    seed: int = 7
    dim: int = 384
    everyone_share: float = 0.20  # documents for the whole company
    personal_share: float = 0.05  # documents only their owner reads
    two_groups_share: float = 0.40  # of the group documents, those shared by two groups (the rest: one)
    group_skew: float = 0.7  # group g holds documents in proportion to (g + 1) ** -skew: a few big groups
    users: int = 2_000
    few_groups_max: int = 3  # a typical caller is in 1..3 groups
    many_groups: int = 15  # with the defaults, about half the corpus readable
    plain: bool = True  # also time plain filtered HNSW, the product's search before it chose per filter
    numpy_check_max: int = 100_000
    count_checks: int = 5  # callers per kind whose readable chunks are also counted by the store
    workdir: Path | None = None
    keep: bool = False
    reuse: bool = False  # search a store --keep left in --workdir instead of building it again

    def corpus_config(self) -> query.Config:
        return query.Config(
            sizes=(self.size,),
            queries=self.queries,
            dim=self.dim,
            seed=self.seed,
            warmup=self.warmup,
            numpy_check_max=self.numpy_check_max,
            e2e=False,
        )

    def describe(self) -> dict[str, Any]:
        fields = {k: v for k, v in vars(self).items() if k not in ("workdir", "keep", "reuse")}
        return fields | {"top_k": TOP_K, "chunks_per_doc": self.corpus_config().chunks_per_doc}


# -- who may read what -----------------------------------------------------------------------------------


def group_name(group: int) -> str:
    return f"team-{group:02d}"


def user_name(user: int) -> str:
    return f"user{user:04d}@example.com"


class Labelling:
    """Each document's readers as a bit mask (a bit per group, one for everyone) and an owner (-1: none),
    drawn once from the seed: cheap to hold at 100k documents and to test a caller against in numpy."""

    def __init__(self, documents: int, config: Config) -> None:
        rng = np.random.default_rng([config.seed, documents, 10])
        groups = config.groups
        weights = np.arange(1, groups + 1, dtype=np.float64) ** -config.group_skew
        self.group_weights = weights / weights.sum()
        kind = rng.random(documents)
        everyone = kind < config.everyone_share
        personal = (kind >= config.everyone_share) & (kind < config.everyone_share + config.personal_share)
        grouped = ~everyone & ~personal
        first = rng.choice(groups, size=documents, p=self.group_weights)
        second = rng.choice(groups, size=documents, p=self.group_weights)
        clash = second == first
        second[clash] = (first[clash] + 1 + rng.integers(0, max(1, groups - 1), int(clash.sum()))) % groups
        two = grouped & (rng.random(documents) < config.two_groups_share)
        one = np.uint64(1)
        masks = np.zeros(documents, dtype=np.uint64)
        masks[grouped] |= one << first[grouped].astype(np.uint64)
        masks[two] |= one << second[two].astype(np.uint64)
        masks[everyone] |= one << np.uint64(EVERYONE_BIT)
        self.masks: Masks = masks
        self.owners = np.where(personal, rng.integers(0, config.users, documents), -1)
        self.kinds = {
            "everyone": float(everyone.mean()),
            "one_group": float((grouped & ~two).mean()),
            "two_groups": float(two.mean()),
            "personal": float(personal.mean()),
        }
        self._cache: dict[tuple[int, int], tuple[str, ...]] = {}

    def labels(self, doc: int) -> tuple[str, ...]:
        """The labels the product would store for the document (rag.access.DocumentAccess)."""
        key = (int(self.masks[doc]), int(self.owners[doc]))
        if key not in self._cache:
            mask, owner = key
            groups = [EVERYONE] if mask >> EVERYONE_BIT & 1 else []
            groups += [group_name(g) for g in range(EVERYONE_BIT) if mask >> g & 1]
            users = [user_name(owner)] if owner >= 0 else []
            self._cache[key] = tuple(DocumentAccess.of(groups, users).labels())
        return self._cache[key]

    def readable(self, caller: Caller) -> npt.NDArray[np.bool_]:
        """Per document: may the caller read it (shares a group, or owns it)?"""
        held: npt.NDArray[np.bool_] = (self.masks & np.uint64(caller.mask)) != 0
        owned: npt.NDArray[np.bool_] = self.owners == caller.user
        return held | owned


class LabelledCorpus(SyntheticCorpus):
    """bench/query.py's corpus, its documents labelled by a Labelling."""

    def __init__(self, config: Config) -> None:
        super().__init__(config.size, config.corpus_config())
        per_doc = self.config.chunks_per_doc
        self.documents = math.ceil(config.size / per_doc)
        self.labelling = Labelling(self.documents, config)
        self.chunks_per_document = np.full(self.documents, per_doc, dtype=np.int64)
        self.chunks_per_document[-1] = config.size - per_doc * (self.documents - 1)

    def document_access(self, doc: int) -> tuple[str, ...]:
        return self.labelling.labels(doc)

    def document_of(self, chunk_id: str) -> int:
        return row_of(chunk_id) // self.config.chunks_per_doc


@dataclass(frozen=True, slots=True)
class Caller:
    """A reader: the groups and user behind a principal, and the labels its searches filter by."""

    kind: str
    groups: tuple[int, ...]
    user: int
    labels: tuple[str, ...]

    @property
    def mask(self) -> int:
        everyone = group_label(EVERYONE) in self.labels
        return sum(1 << g for g in self.groups) | (1 << EVERYONE_BIT if everyone else 0)

    @property
    def filters(self) -> SearchFilters:
        return SearchFilters(access=self.labels)


def make_caller(kind: str, groups: Sequence[int], user: int) -> Caller:
    """The labels come from the product's Principal (a front end's key acting for a user), so a caller
    holds group:everyone and their own user label as every real reader does; ``selective`` drops
    group:everyone: the same caller in a knowledge base where nothing is company-wide, the case that
    leaves only a few % of the graph walkable."""
    principal = Principal(key="bench-front-end", role="reader").acting_for(
        user_name(user), [group_name(g) for g in groups]
    )
    labels = principal.scope().access
    assert labels is not None  # a reader is always restricted
    if kind == SELECTIVE:
        labels = [label for label in labels if label != group_label(EVERYONE)]
    return Caller(kind, tuple(sorted(groups)), user, tuple(labels))


@dataclass(frozen=True, slots=True)
class ScopedQuery(Query):
    """A held-out query and, per caller kind, who is asking it (a different caller every query)."""

    callers: tuple[Caller, ...]

    def caller(self, kind: str) -> Caller:
        return next(c for c in self.callers if c.kind == kind)

    def filters(self, kind: str) -> SearchFilters:
        return SearchFilters() if kind == UNFILTERED else self.caller(kind).filters


def scoped_queries(corpus: LabelledCorpus, config: Config) -> list[ScopedQuery]:
    rng = np.random.default_rng([config.seed, config.size, 11])
    scoped = []
    for plain in corpus.queries(config.queries):
        user = int(rng.integers(0, config.users))
        # A reader's groups are drawn evenly: a small team's member asks as often as a big one's.
        few = rng.choice(config.groups, int(rng.integers(1, config.few_groups_max + 1)), replace=False)
        many = rng.choice(config.groups, min(config.many_groups, config.groups), replace=False)
        callers = (
            make_caller(FEW, few.tolist(), user),
            make_caller(SELECTIVE, few.tolist(), user),
            make_caller(MANY, many.tolist(), user),
        )
        scoped.append(ScopedQuery(plain.text, plain.vector, callers))
    return scoped


def scoped(query_: Query) -> ScopedQuery:
    assert isinstance(query_, ScopedQuery)
    return query_


# -- searches --------------------------------------------------------------------------------------------


class PresetQueryEmbedder:
    """Hands the Retriever the query's synthetic vector: the store holds synthetic vectors, so a model's
    would match nothing, and this run measures the search, not the embedding (bench/query.py does)."""

    def __init__(self, dimension: int) -> None:
        self._dimension = dimension
        self.vector: Vector = []

    @property
    def name(self) -> str:
        return SPEC_EMBEDDER

    @property
    def dimension(self) -> int:
        return self._dimension

    @property
    def max_tokens(self) -> int:
        return 512

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def embed_documents(self, texts: Sequence[str]) -> list[Vector]:
        raise NotImplementedError("the benchmark ingests synthetic vectors")

    def embed_query(self, text: str) -> Vector:
        return self.vector

    def close(self) -> None:
        pass


def hybrid_search(retriever: Retriever, embedder: PresetQueryEmbedder, kind: str) -> Search:
    """The product's hybrid retrieval: Retriever.retrieve, as the API's /v1/search and the answer path
    call it with the caller's scope."""

    def search(query_: Query) -> list[str]:
        embedder.vector = query_.vector
        filters = scoped(query_).filters(kind)
        hits = retriever.retrieve(query_.text, top_k=TOP_K, mode="hybrid", filters=filters).hits
        return [hit.chunk.chunk_id for hit in hits]

    return search


def dense_search(store: EdgeStore, kind: str, limit: int = TOP_K) -> Search:
    """Dense only, through EdgeStore.search (the product's HNSW search, RAG_HNSW_EF)."""

    def search(query_: Query) -> list[str]:
        filters = scoped(query_).filters(kind)
        request = SearchRequest(query_.text, query_.vector, "dense", limit=limit, filters=filters)
        return [hit.chunk.chunk_id for hit in store.search(request)]

    return search


def with_params(store: EdgeStore, params: qe.SearchParams, search: Search) -> Search:
    """A product search, but with fixed dense search params (exact, plain HNSW) instead of those
    EdgeStore picks per filter: a second handle on the shard would hit its WAL lock, so this swaps the
    open store's private chooser around the call."""

    def swapped(query_: Query) -> list[str]:
        store._dense_params = lambda flt: params  # type: ignore[method-assign]
        try:
            return search(query_)
        finally:
            del store._dense_params  # the class's own method again

    return swapped


EXACT = qe.SearchParams(exact=True)


# -- checks ----------------------------------------------------------------------------------------------


def unreadable_hits(corpus: LabelledCorpus, queries: Sequence[ScopedQuery], run: Run, kind: str) -> int:
    """Hits the caller may not read, judged by the generator's labels (not the store's payload)."""
    bad = 0
    for query_, ids in zip(queries, run.ids, strict=True):
        caller = query_.caller(kind)
        for chunk_id in ids:
            doc = corpus.document_of(chunk_id)
            mask, owner = int(corpus.labelling.masks[doc]), int(corpus.labelling.owners[doc])
            bad += not (mask & caller.mask or owner == caller.user)
    return bad


def readable_shares(corpus: LabelledCorpus, queries: Sequence[ScopedQuery], kind: str) -> list[float]:
    return [
        float((corpus.chunks_per_document * corpus.labelling.readable(q.caller(kind))).sum() / corpus.size)
        for q in queries
    ]


def store_counts_agree(
    store: EdgeStore, corpus: LabelledCorpus, queries: Sequence[ScopedQuery], kind: str, checks: int
) -> bool:
    """The store's own count under the caller's filter equals the generator's: the filter and the labels
    mean what the benchmark thinks they mean."""
    for query_ in queries[:checks]:
        caller = query_.caller(kind)
        expected = int((corpus.chunks_per_document * corpus.labelling.readable(caller)).sum())
        if store.count(caller.filters) != expected:
            return False
    return True


def stored_labels_agree(store: EdgeStore, corpus: LabelledCorpus, ids: Sequence[str]) -> bool:
    """The access payload the store returns is the label set the generator gave the document."""
    return all(c.access == corpus.labelling.labels(corpus.document_of(c.chunk_id)) for c in store.get(ids))


def numpy_filtered_top_k(
    vectors: Matrix, corpus: LabelledCorpus, queries: Sequence[ScopedQuery], kind: str
) -> list[list[str]]:
    """Brute-force cosine top-k over the chunks the caller may read: an independent check of Edge's
    exact filtered search."""
    per_doc = corpus.config.chunks_per_doc
    found = []
    for query_ in queries:
        if kind == UNFILTERED:
            allowed = np.ones(corpus.size, dtype=np.bool_)
        else:
            allowed = np.repeat(corpus.labelling.readable(query_.caller(kind)), per_doc)[: corpus.size]
        scores = vectors @ np.asarray(query_.vector, dtype=np.float32)
        scores[~allowed] = -np.inf
        top = np.argsort(-scores)[: min(TOP_K, int(allowed.sum()))]
        found.append([query.point_id(int(i)) for i in top])
    return found


# -- the run ---------------------------------------------------------------------------------------------


def timed_searches(
    store: EdgeStore, retriever: Retriever, embedder: PresetQueryEmbedder, hnsw_ef: int | None
) -> dict[str, Search]:
    """The product's searches per caller kind and, with ``hnsw_ef``, the same with plain HNSW at that
    breadth (without a filter the product searches so too: the unfiltered searches are their baseline)."""
    searches: dict[str, Search] = {}
    for kind in KINDS:
        searches[f"hybrid_{kind}"] = hybrid_search(retriever, embedder, kind)
        searches[f"dense_{kind}"] = dense_search(store, kind)
    if hnsw_ef is not None:
        plain = qe.SearchParams(hnsw_ef=hnsw_ef)
        for kind in FILTERED:
            hybrid = hybrid_search(retriever, embedder, kind)
            searches[f"hybrid_plain_{kind}"] = with_params(store, plain, hybrid)
            searches[f"dense_plain_{kind}"] = with_params(store, plain, dense_search(store, kind))
    return searches


def truth_searches(
    store: EdgeStore, retriever: Retriever, embedder: PresetQueryEmbedder, depth: int
) -> dict[str, Search]:
    """Exact dense search with the same filter (``depth`` deep, the ranking hybrid fuses), HNSW at that
    depth, and the product's hybrid retrieval with an exact dense half: what each search should find."""
    searches: dict[str, Search] = {}
    for kind in KINDS:
        searches[f"exact_{kind}"] = with_params(store, EXACT, dense_search(store, kind, depth))
        searches[f"dense_deep_{kind}"] = dense_search(store, kind, depth)  # the product's
        searches[f"hybrid_exact_{kind}"] = with_params(store, EXACT, hybrid_search(retriever, embedder, kind))
    return searches


def measure(
    store: EdgeStore,
    settings: Settings,
    corpus: LabelledCorpus,
    queries: Sequence[ScopedQuery],
    vectors: Matrix | None,
    config: Config,
) -> dict[str, Any]:
    embedder = PresetQueryEmbedder(config.dim)
    fusion = Fusion(
        settings.fusion, settings.rrf_k, settings.fusion_dense_weight, settings.fusion_sparse_weight
    )
    retriever = Retriever(embedder, store, settings.prefetch_k, fusion)

    progress(f"timing {len(queries)} queries, interleaved: hybrid and dense, unfiltered and per caller kind")
    searches = timed_searches(store, retriever, embedder, settings.hnsw_ef if config.plain else None)
    runs = time_interleaved(searches, queries, config.warmup)
    load_after_timing = load_average()
    progress("ground truth: exact dense and exact-dense hybrid with the same filters")
    depth = settings.prefetch_k
    truth = time_interleaved(truth_searches(store, retriever, embedder, depth), queries, 0)

    shares = {kind: readable_shares(corpus, queries, kind) for kind in FILTERED}
    recall = {kind: recall_entry(kind, runs, truth, depth, shares.get(kind), config) for kind in KINDS}
    if vectors is not None:
        for kind in KINDS:
            numpy_truth = numpy_filtered_top_k(vectors, corpus, queries, kind)
            recall[kind]["exact_vs_numpy_at_10"] = recall_at_k(truth[f"exact_{kind}"].ids, numpy_truth)
    latency = {name: run.stats() for name, run in runs.items()}
    latency |= {
        name: truth[name].stats() for kind in KINDS for name in (f"exact_{kind}", f"hybrid_exact_{kind}")
    }
    # Every hit of every filtered search, timed or not, judged by the generator's labels.
    checked = {**runs, **truth}
    readable_check = {
        name: {
            "hits": sum(len(ids) for ids in run.ids),
            "unreadable": unreadable_hits(corpus, queries, run, kind),
        }
        for name, run in checked.items()
        for kind in FILTERED
        if name.endswith(kind)
    }
    sample = [i for ids in runs[f"hybrid_{UNFILTERED}"].ids[:20] for i in ids]
    return {
        "latency": latency,
        "ratios": ratios(latency, config),
        "recall": recall,
        "readable_check": readable_check,
        "stored_labels_match_generator": stored_labels_agree(store, corpus, sample),
        "callers": {
            kind: caller_summary(store, corpus, queries, kind, shares[kind], config) for kind in FILTERED
        },
        "retrieval": {
            "fusion": fusion.label,
            "prefetch_k": settings.prefetch_k,
            "hnsw_ef": settings.hnsw_ef,
            "top_k": TOP_K,
        },
        "dense_search_chosen": chosen_searches(store, queries),
        "load_average_after_timing": load_after_timing,
    }


SHARE_BUCKETS = (0.0, 0.02, 0.05, 0.10, 0.20, 0.40, 1.0)


def recall_entry(
    kind: str,
    runs: dict[str, Run],
    truth: dict[str, Run],
    depth: int,
    shares: list[float] | None,
    config: Config,
) -> dict[str, Any]:
    """Recall of each search against its exact counterpart; for filtered callers also by how much of the
    corpus the caller reads, since a filter strands HNSW's graph walk only below some share."""
    exact, hybrid_exact = truth[f"exact_{kind}"].ids, truth[f"hybrid_exact_{kind}"].ids
    dense = per_query_recall(runs[f"dense_{kind}"].ids, exact)
    entry: dict[str, Any] = {
        "dense_at_10": recall_at_k(runs[f"dense_{kind}"].ids, exact),
        f"dense_at_{depth}": recall_at_k(truth[f"dense_deep_{kind}"].ids, exact, depth),
        "hybrid_at_10": recall_at_k(runs[f"hybrid_{kind}"].ids, hybrid_exact),
        "dense_queries_with_zero_recall": sum(r == 0.0 for r in dense),
        "queries_with_fewer_than_10_readable": sum(len(ids) < TOP_K for ids in exact),
    }
    if kind == UNFILTERED or shares is None:
        return entry
    plain: list[float] = []
    if config.plain:
        plain = per_query_recall(runs[f"dense_plain_{kind}"].ids, exact)
        entry |= {
            "dense_plain_at_10": recall_at_k(runs[f"dense_plain_{kind}"].ids, exact),
            "hybrid_plain_at_10": recall_at_k(runs[f"hybrid_plain_{kind}"].ids, hybrid_exact),
            "dense_plain_queries_with_zero_recall": sum(r == 0.0 for r in plain),
        }
    buckets = []
    for low, high in itertools.pairwise(SHARE_BUCKETS):
        inside = [i for i, share in enumerate(shares) if low <= share < high]
        if not inside:
            continue
        bucket: dict[str, Any] = {
            "readable_share": [low, high],
            "queries": len(inside),
            "dense_at_10": round(float(np.mean([dense[i] for i in inside])), 4),
            "dense_zero_recall": sum(dense[i] == 0.0 for i in inside),
        }
        if plain:
            bucket["dense_plain_at_10"] = round(float(np.mean([plain[i] for i in inside])), 4)
        buckets.append(bucket)
    entry["by_readable_share"] = buckets
    return entry


def chosen_searches(store: EdgeStore, queries: Sequence[ScopedQuery]) -> dict[str, dict[str, int]]:
    """How often the product chose each dense search (rag/store/filtered_search.py), per caller kind."""
    counts: dict[str, dict[str, int]] = {}
    for kind in FILTERED:
        chosen = [store._plan_dense(edge_filter(q.filters(kind))).method for q in queries]
        counts[kind] = {method.value: chosen.count(method) for method in DenseMethod}
    return counts


def per_query_recall(found: Sequence[Sequence[str]], truth: Sequence[Sequence[str]]) -> list[float]:
    """recall@10 of each query (1.0 where nothing is readable: there was nothing to find)."""
    return [
        len(set(f[:TOP_K]) & set(t[:TOP_K])) / min(TOP_K, len(t)) if t else 1.0
        for f, t in zip(found, truth, strict=True)
    ]


def caller_summary(
    store: EdgeStore,
    corpus: LabelledCorpus,
    queries: Sequence[ScopedQuery],
    kind: str,
    shares: list[float],
    config: Config,
) -> dict[str, Any]:
    groups = [len(q.caller(kind).groups) for q in queries]
    return {
        "callers": len(queries),
        "groups_per_caller": [min(groups), max(groups)],
        "holds_everyone": group_label(EVERYONE) in queries[0].caller(kind).labels,
        "readable_share": {
            "mean": round(float(np.mean(shares)), 4),
            "min": round(min(shares), 4),
            "median": round(float(np.median(shares)), 4),
            "max": round(max(shares), 4),
        },
        "store_count_matches": store_counts_agree(store, corpus, queries, kind, config.count_checks),
    }


def ratios(latency: dict[str, dict[str, float]], config: Config) -> dict[str, dict[str, float | None]]:
    """Filtered over unfiltered, per caller kind: the issue's figure is hybrid p95."""
    result: dict[str, dict[str, float | None]] = {}
    for kind in FILTERED:
        entry: dict[str, float | None] = {}
        for search in ("hybrid", "dense"):
            for p in ("p50", "p95", "p99"):
                entry[f"{search}_{p}"] = ratio(
                    latency[f"{search}_{kind}"][f"{p}_ms"], latency[f"{search}_{UNFILTERED}"][f"{p}_ms"]
                )
        if config.plain:
            for search in ("hybrid_plain", "dense_plain"):
                baseline = "hybrid" if search.startswith("hybrid") else "dense"
                entry[f"{search}_p95"] = ratio(
                    latency[f"{search}_{kind}"]["p95_ms"], latency[f"{baseline}_{UNFILTERED}"]["p95_ms"]
                )
        result[kind] = entry
    return result


def summarise(measured: dict[str, Any]) -> dict[str, Any]:
    latency, recall, callers = measured["latency"], measured["recall"], measured["callers"]
    table = []
    for kind in KINDS:
        hybrid, dense = latency[f"hybrid_{kind}"], latency[f"dense_{kind}"]
        ratios_, recall_ = measured["ratios"].get(kind, {}), recall[kind]
        row: dict[str, Any] = {
            "caller": kind,
            "readable_share": callers[kind]["readable_share"]["mean"] if kind in callers else 1.0,
            "hybrid_p50_ms": hybrid["p50_ms"],
            "hybrid_p95_ms": hybrid["p95_ms"],
            "hybrid_p99_ms": hybrid["p99_ms"],
            "hybrid_p95_ratio": ratios_.get("hybrid_p95", 1.0),
            "dense_p50_ms": dense["p50_ms"],
            "dense_p95_ms": dense["p95_ms"],
            "dense_p95_ratio": ratios_.get("dense_p95", 1.0),
            "dense_recall_at_10": recall_["dense_at_10"],
            "dense_zero_recall_queries": recall_["dense_queries_with_zero_recall"],
            "hybrid_recall_at_10": recall_["hybrid_at_10"],
        }
        if f"hybrid_plain_{kind}" in latency:
            plain_hybrid, plain_dense = latency[f"hybrid_plain_{kind}"], latency[f"dense_plain_{kind}"]
            row |= {
                "hybrid_plain_p50_ms": plain_hybrid["p50_ms"],
                "hybrid_plain_p95_ms": plain_hybrid["p95_ms"],
                "hybrid_plain_p95_ratio": ratios_["hybrid_plain_p95"],
                "dense_plain_p95_ms": plain_dense["p95_ms"],
                "dense_plain_p95_ratio": ratios_["dense_plain_p95"],
                "hybrid_plain_recall_at_10": recall_["hybrid_plain_at_10"],
                "dense_plain_recall_at_10": recall_["dense_plain_at_10"],
                "dense_plain_zero_recall_queries": recall_["dense_plain_queries_with_zero_recall"],
            }
        table.append(row)
    filtered = [row for row in table if row["caller"] != UNFILTERED]
    worst = max(filtered, key=lambda row: row["hybrid_p95_ratio"] or 0.0)
    min_recall = min(row["dense_recall_at_10"] for row in filtered)
    target: dict[str, Any] = {
        "hybrid_p95_ratio_at_most": TARGET_P95_RATIO,
        "recall_at_10_at_least": TARGET_RECALL,
        "worst_caller": worst["caller"],
        "worst_hybrid_p95_ratio": worst["hybrid_p95_ratio"],
        "met_latency": all((row["hybrid_p95_ratio"] or 0.0) <= TARGET_P95_RATIO for row in filtered),
        "min_filtered_dense_recall_at_10": min_recall,
        "met_recall": min_recall >= TARGET_RECALL,
    }
    if "hybrid_plain_p95_ratio" in worst:
        target |= {
            "plain_worst_hybrid_p95_ratio": max(row["hybrid_plain_p95_ratio"] or 0.0 for row in filtered),
            "plain_min_dense_recall_at_10": min(row["dense_plain_recall_at_10"] for row in filtered),
        }
    return {
        "table": table,
        "target": target,
        "unreadable_hits": sum(check["unreadable"] for check in measured["readable_check"].values()),
    }


def engine_config(store: EdgeStore) -> dict[str, Any]:
    """What the shard was built with, as far as qdrant_edge tells: the payload indexes and their points."""
    info = raw_shard(store).info()
    return {
        "segments": info.segments_count,
        "points": info.points_count,
        "indexed_vectors_dense_plus_sparse": info.indexed_vectors_count,
        "payload_index_points": {name: index.points for name, index in sorted(info.payload_schema.items())},
    }


NOTES = [
    "All searches run on one EdgeStore after optimize() (HNSW built, bench/query.py's build_edge with "
    "hnsw_threshold=0), each query through every timed search in turn (rotating order) after warm-up "
    "queries.",
    "hybrid_*: the product's Retriever.retrieve(mode='hybrid') with the product's fusion and prefetch "
    "depth from the settings; the query vector is the synthetic one (no model runs). dense_*: "
    "EdgeStore.search(mode='dense'), top 10, the product's hnsw_ef. Ratios: filtered over unfiltered.",
    "Callers: a different one per query. few_groups: in 1..few_groups_max groups, labels from "
    "Principal.scope (group:everyone and their user label included, as for every reader); selective: the "
    "same caller without group:everyone (a knowledge base where nothing is company-wide: a few % of the "
    "graph walkable); many_groups: in many_groups groups. unfiltered: no access condition (an admin).",
    "Documents: everyone_share for everyone, personal_share private to one of `users` users, the rest "
    "for one or (two_groups_share) two groups, group g drawing documents in proportion to "
    "(g + 1) ** -group_skew. A chunk carries its document's labels.",
    "recall: the product's dense search (and plain HNSW) top 10 against exact dense search with the "
    "same filter; dense_at_<prefetch_k> at the depth the hybrid retrieval fuses; hybrid_at_10 against "
    "the same hybrid retrieval with an exact dense half (hybrid_exact_*). exact_vs_numpy: exact "
    "filtered search against a numpy brute force over the readable chunks (up to numpy_check_max chunks).",
    "readable_check: every hit of every filtered search (timed and ground truth) judged against the "
    "generator's labels; store_count_matches: EdgeStore.count(caller's filter) equals the generator's count.",
    "The product's filtered dense search (dense_*, hybrid_*) picks its search per filter from an "
    "approximate count (timed with the search): rag/store/filtered_search.py; dense_search_chosen counts "
    "its choices. *_plain_*: the same searches with plain HNSW at the product's hnsw_ef swapped into the "
    "open EdgeStore, what the product sent before it chose per filter.",
    "exact_* (prefetch_k deep) and hybrid_exact_*: latency of the ground-truth searches, run after the "
    "timed ones (interleaved among themselves, not with them).",
]


def run(config: Config) -> dict[str, Any]:
    started = time.perf_counter()
    load = {"start": load_average()}
    workdir = config.workdir or Path(tempfile.mkdtemp(prefix="bench-access-filter-"))
    workdir.mkdir(parents=True, exist_ok=True)
    data_dir = workdir / f"size-{config.size}"
    corpus = LabelledCorpus(config)
    queries = scoped_queries(corpus, config)
    spec = StoreSpec(SPEC_EMBEDDER, config.dim)
    try:
        build, vectors = reused_build(corpus, data_dir, spec) if config.reuse else None, None
        if build is None:
            progress(
                f"[{config.size:,}] building the Edge store ({corpus.documents:,} labelled documents) "
                f"in {data_dir}"
            )
            shutil.rmtree(data_dir, ignore_errors=True)
            build, vectors = build_edge(corpus, data_dir, spec)
            record_build(data_dir, build)
        disk = disk_usage(data_dir / COLLECTION)
        load["after_build"] = load_average()
        store = open_edge(data_dir, spec)
        try:
            engine = engine_config(store)
            measured = measure(store, edge_settings(data_dir), corpus, queries, vectors, config)
        finally:
            store.close()
    finally:
        if not config.keep:
            shutil.rmtree(data_dir, ignore_errors=True)
            if config.workdir is None:
                shutil.rmtree(workdir, ignore_errors=True)
    load["after_timing"] = measured.pop("load_average_after_timing")
    load["end"] = load_average()
    summary = summarise(measured)
    progress(
        f"[{config.size:,}] done in {time.perf_counter() - started:.0f} s: worst hybrid p95 ratio "
        f"{summary['target']['worst_hybrid_p95_ratio']} ({summary['target']['worst_caller']}), "
        f"min filtered recall@10 {summary['target']['min_filtered_dense_recall_at_10']}"
    )
    return {
        "benchmark": "access_filter",
        "config": {**config.describe(), "collection": COLLECTION, "notes": NOTES},
        "size": config.size,
        "documents": corpus.documents,
        "clusters": corpus.clusters,
        "document_labels": {k: round(v, 4) for k, v in corpus.labelling.kinds.items()},
        "group_share_of_group_documents": [round(float(w), 4) for w in corpus.labelling.group_weights],
        "build": build,
        "disk": disk,
        "engine": engine,
        **measured,
        "summary": summary,
        "load_average": load,
        "peak_rss_mib": peak_rss_mib(),
        "elapsed_s": round(time.perf_counter() - started, 1),
    }


def parse_args(argv: Sequence[str] | None) -> Config:
    parser = argparse.ArgumentParser(
        prog="python -m bench.access_filter", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--size", type=int, default=Config.size, help="chunks")
    parser.add_argument("--groups", type=int, default=Config.groups, help=f"groups (at most {EVERYONE_BIT})")
    parser.add_argument("--queries", type=int, default=Config.queries)
    parser.add_argument("--warmup", type=int, default=Config.warmup, help="untimed queries first")
    parser.add_argument("--seed", type=int, default=Config.seed)
    parser.add_argument("--dim", type=int, default=Config.dim, help="384 (MiniLM); nomic-embed-text is 768")
    parser.add_argument("--everyone-share", type=float, default=Config.everyone_share)
    parser.add_argument("--personal-share", type=float, default=Config.personal_share)
    parser.add_argument(
        "--many-groups", type=int, default=Config.many_groups, help="groups of the many-groups caller"
    )
    parser.add_argument(
        "--no-plain", action="store_true", help="skip plain filtered HNSW (the search before the fix)"
    )
    parser.add_argument("--numpy-check-max", type=int, default=Config.numpy_check_max)
    parser.add_argument("--workdir", type=Path, help="where the store goes (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the store on disk")
    parser.add_argument(
        "--reuse", action="store_true", help="search the store a --keep run left in --workdir, if complete"
    )
    args = parser.parse_args(argv)
    if args.reuse and not (args.workdir and args.keep):
        parser.error("--reuse needs --workdir and --keep (the store it reuses is kept for the next run)")
    if not 1 <= args.groups <= EVERYONE_BIT:
        parser.error(f"--groups must be between 1 and {EVERYONE_BIT}")
    return Config(
        size=args.size,
        groups=args.groups,
        queries=args.queries,
        warmup=args.warmup,
        seed=args.seed,
        dim=args.dim,
        everyone_share=args.everyone_share,
        personal_share=args.personal_share,
        many_groups=args.many_groups,
        plain=not args.no_plain,
        numpy_check_max=args.numpy_check_max,
        workdir=args.workdir,
        keep=args.keep,
        reuse=args.reuse,
    )


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    result = run(parse_args(argv))
    emit(result)
    return result


if __name__ == "__main__":
    main()
