"""Retrieval latency at 10k to 1M chunks: embedded Qdrant Edge (HNSW against exact) and qdrant-client
``:memory:`` as the baseline, on synthetic clustered vectors.

Per corpus size, one run measures:

* build: upsert through ``EdgeStore.upsert`` (BM25 sparse vectors included) and ``optimize`` (HNSW);
* reopen, in a fresh process as after a restart: time to open the store, first query, resident memory;
* Edge dense search with HNSW (the product's ``EdgeStore.search``), exact dense search on the same
  shard, recall@10 of HNSW against exact, an ``hnsw_ef`` sweep, and hybrid (dense + BM25, RRF) search;
* end to end: real query embedding + ``Retriever.retrieve`` (hybrid) + cross-encoder rerank, per stage;
* the qdrant-client ``:memory:`` baseline (dense and hybrid) up to ``--baseline-max`` chunks;
* on-disk size of the Edge store.

Vectors are synthetic but clustered: uniform random vectors have no neighbourhood structure and are
HNSW's worst case, while real embeddings cluster by topic. Each point is a cluster centre plus
isotropic gaussian noise, normalised; queries are fresh draws from the same distribution (never stored
points). Chunk texts draw on a per-cluster vocabulary so BM25 has real term matches in hybrid search.

    .venv/bin/python -m bench.query --sizes 10000,100000 > build/bench-query.json

Prints one JSON object on stdout; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import multiprocessing
import os
import shutil
import tempfile
import threading
import time
import uuid
import warnings
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import qdrant_edge as qe

from bench.common import current_rss_mib, dir_size_mib, emit, peak_rss_mib, percentiles, progress
from rag.config import Settings, load_settings
from rag.embedding.base import Embedder, ForwardingEmbedder, Vector
from rag.retrieval import Retriever
from rag.store import open_store
from rag.store.base import DENSE, SearchRequest, VectorStore
from rag.store.edge import EdgeStorage, EdgeStore
from rag.store.edge import _search_params as edge_search_params  # the dense params the product sends
from rag.store.filtered_search import DenseMethod, DensePlan
from rag.types import Chunk, SearchMode, StoreSpec, document_id

Matrix = npt.NDArray[np.float32]

QUERY_EMBEDDER = "all-MiniLM-L6-v2"  # packaged, offline; production's nomic-embed-text is 768-d
COLLECTION = "bench_query"
SPEC_EMBEDDER = "bench:synthetic-clustered"  # what the store records as its embedder
TOP_K = 10  # recall@10 and the dense/hybrid latency runs ask for ten hits
PRODUCT_CHUNK_TOKENS: int = Settings.model_fields["chunk_tokens"].default  # RAG_CHUNK_TOKENS: 384

# Synthetic text: made-up words so no real stop word or stemming accident skews BM25.
_SYLLABLES = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]
TOPIC_VOCABULARY = 24  # words specific to one cluster
FILLER_VOCABULARY = 5_000  # words shared by every cluster
CHUNK_TOPIC_WORDS, CHUNK_FILLER_WORDS = 6, 12
QUERY_TOPIC_WORDS, QUERY_FILLER_WORDS = 3, 5


DEFAULT_OVERSAMPLING: float = Settings.model_fields["store_oversampling"].default
# --storages: how the embedded store keeps its indexes (RAG_STORE_ON_DISK, RAG_STORE_QUANTIZATION).
STORAGES: dict[str, dict[str, Any]] = {
    "memory": {"store_on_disk": False, "store_quantization": "none"},  # the default
    "disk": {"store_on_disk": True, "store_quantization": "none"},
    "memory-8bit": {"store_on_disk": False, "store_quantization": "8bit"},
    "disk-8bit": {"store_on_disk": True, "store_quantization": "8bit"},  # going tall: 8-bit copies in RAM
}


@dataclass(frozen=True)
class Config:
    sizes: tuple[int, ...] = (10_000, 100_000, 1_000_000)
    queries: int = 300
    dim: int = 384
    seed: int = 7
    points_per_cluster: int = 500  # 2,000 clusters at 1M chunks
    noise: float = 1.0  # norm of the noise relative to the (unit) centre, before normalising
    chunks_per_doc: int = 10
    batch: int = 2_000
    warmup: int = 10
    ef_sweep: tuple[int, ...] = (64, 100, 128, 256, 512)  # 100: the engine's own default
    rerank_candidates: int = 20  # the product's RAG_ANSWER_CANDIDATES default is 12
    e2e_queries: int = 100  # the model stages dominate a run's time on two cores
    e2e_torch_threads: tuple[int, ...] = (1,)  # besides torch's default (one per core)
    rerank_tokens: tuple[int, ...] = (48, 128, PRODUCT_CHUNK_TOKENS)  # synthetic chunks are ~48 tokens
    rerank_repeats: int = 10
    numpy_check_max: int = 100_000  # up to here, Edge's exact search is checked against numpy
    # Above this, the truth is numpy over the regenerated corpus, not Edge's exact search: with vectors on
    # disk that reads every vector from disk per query (15 GB at 10M), minutes for a few hundred queries.
    exact_max: int = 2_000_000
    baseline_max: int = 100_000
    baseline_queries: int = 100  # qdrant-client :memory: is pure Python: ~0.5 s per hybrid query at 100k
    e2e: bool = True
    # Store layouts measured side by side at each size (see STORAGES): "memory" is the product default.
    storages: tuple[str, ...] = ("memory",)
    oversampling: float = DEFAULT_OVERSAMPLING  # RAG_STORE_OVERSAMPLING for the 8-bit layouts
    oversampling_sweep: tuple[float, ...] = (1.0, 2.0, 4.0)  # tried on the 8-bit layouts
    progress_json: Path | None = None  # a snapshot of the build (chunks, seconds, RSS), rewritten as it goes
    # Optimise (build HNSW) every this many chunks during the build, as the product does after each
    # ingest, instead of once at the end: bounds the unoptimised WAL + segment a 10M build piles up.
    optimize_every: int | None = None
    workdir: Path | None = None
    keep: bool = False
    reuse: bool = False  # search the stores --keep left in --workdir instead of building them again

    def describe(self) -> dict[str, Any]:
        return {
            "sizes": list(self.sizes),
            "queries": self.queries,
            "dim": self.dim,
            "seed": self.seed,
            "points_per_cluster": self.points_per_cluster,
            "noise": self.noise,
            "expected_cosine_point_to_centre": round(1 / math.sqrt(1 + self.noise**2), 3),
            "chunks_per_doc": self.chunks_per_doc,
            "batch": self.batch,
            "warmup_queries": self.warmup,
            "top_k": TOP_K,
            "ef_sweep": list(self.ef_sweep),
            "rerank_candidates": self.rerank_candidates,
            "e2e_queries": self.e2e_queries,
            "e2e_torch_threads": list(self.e2e_torch_threads),
            "rerank_tokens": list(self.rerank_tokens),
            "rerank_repeats": self.rerank_repeats,
            "numpy_check_max": self.numpy_check_max,
            "exact_max": self.exact_max,
            "baseline_max": self.baseline_max,
            "baseline_queries": self.baseline_queries,
            "e2e": self.e2e,
            "storages": {name: STORAGES[name] for name in self.storages},
            "oversampling": self.oversampling,
            "oversampling_sweep": list(self.oversampling_sweep),
            "optimize_every": self.optimize_every,
        }


# -- synthetic corpus ------------------------------------------------------------------------------------


def pseudo_word(index: int) -> str:
    """A pronounceable made-up word, unique per index (at least three syllables)."""
    syllables: list[str] = []
    while index or len(syllables) < 3:
        index, digit = divmod(index, len(_SYLLABLES))
        syllables.append(_SYLLABLES[digit])
    return "".join(syllables)


@dataclass(frozen=True, slots=True)
class Query:
    text: str
    vector: Vector


class SyntheticCorpus:
    """Deterministic clustered chunks, generated in batches so 1M chunks never sit in memory at once.

    Documents belong to one cluster (topic) and hold ``chunks_per_doc`` chunks each; every chunk's
    vector is its cluster centre plus gaussian noise, normalised.
    """

    def __init__(self, size: int, config: Config) -> None:
        self.size = size
        self.config = config
        self.clusters = max(8, size // config.points_per_cluster)
        rng = np.random.default_rng([config.seed, size, 0])
        centres = rng.standard_normal((self.clusters, config.dim))
        self._centres = centres / np.linalg.norm(centres, axis=1, keepdims=True)
        # Each noise coordinate ~ N(0, noise^2/dim), so the noise vector's norm is ~noise.
        self._sigma = config.noise / math.sqrt(config.dim)
        self._filler = [pseudo_word(i) for i in range(FILLER_VOCABULARY)]
        self._topic = [
            [pseudo_word(FILLER_VOCABULARY + c * TOPIC_VOCABULARY + j) for j in range(TOPIC_VOCABULARY)]
            for c in range(self.clusters)
        ]
        # Whole documents per batch, so a document's chunks never straddle two batches.
        per_doc = config.chunks_per_doc
        self.batch = max(per_doc, config.batch // per_doc * per_doc)

    def batches(self, first: int = 0) -> Iterator[tuple[list[Chunk], Matrix]]:
        """From batch number ``first`` on (a build continued), each batch the same as in a full run."""
        for number in range(first, math.ceil(self.size / self.batch)):
            start = number * self.batch
            rng, labels, vectors = self._batch(number)
            count = len(labels)
            topic_words = rng.integers(0, TOPIC_VOCABULARY, (count, CHUNK_TOPIC_WORDS))
            filler_words = rng.integers(0, FILLER_VOCABULARY, (count, CHUNK_FILLER_WORDS))
            chunks = [
                self._chunk(start + i, int(labels[i]), topic_words[i], filler_words[i]) for i in range(count)
            ]
            yield chunks, vectors

    def vector_batches(self) -> Iterator[Matrix]:
        """The vectors of ``batches()`` alone, the same ones, without the cost of making their chunks."""
        for number in range(math.ceil(self.size / self.batch)):
            yield self._batch(number)[2]

    def _batch(self, number: int) -> tuple[np.random.Generator, npt.NDArray[np.int64], Matrix]:
        rng = np.random.default_rng([self.config.seed, self.size, 1, number])
        count = min(self.batch, self.size - number * self.batch)
        per_doc = self.config.chunks_per_doc
        doc_topics = rng.integers(0, self.clusters, math.ceil(count / per_doc))
        labels = np.repeat(doc_topics, per_doc)[:count]
        return rng, labels, self._vectors(rng, labels)

    def queries(self, count: int) -> list[Query]:
        """Held-out queries from the same clusters (fresh noise, never a stored point)."""
        rng = np.random.default_rng([self.config.seed, self.size, 2])
        labels = rng.integers(0, self.clusters, count)
        vectors = self._vectors(rng, labels)
        queries = []
        for i, label in enumerate(labels):
            topic = rng.choice(TOPIC_VOCABULARY, QUERY_TOPIC_WORDS, replace=False)
            filler = rng.integers(0, FILLER_VOCABULARY, QUERY_FILLER_WORDS)
            words = [self._topic[int(label)][int(t)] for t in topic] + [self._filler[int(f)] for f in filler]
            queries.append(Query(" ".join(words), [float(x) for x in vectors[i]]))
        return queries

    def document_access(self, doc: int) -> tuple[str, ...]:
        """The access labels of document ``doc``'s chunks: none here (as before access labels existed);
        bench/access_filter.py overrides it to label documents the way a company's folders would."""
        return ()

    def _vectors(self, rng: np.random.Generator, labels: npt.NDArray[np.int64]) -> Matrix:
        noise = rng.standard_normal((len(labels), self.config.dim)) * self._sigma
        points: npt.NDArray[np.float64] = self._centres[labels] + noise
        points /= np.linalg.norm(points, axis=1, keepdims=True)
        return points.astype(np.float32)

    def _chunk(
        self, i: int, label: int, topic: npt.NDArray[np.int64], filler: npt.NDArray[np.int64]
    ) -> Chunk:
        doc = i // self.config.chunks_per_doc
        source = f"synthetic/topic-{label:05d}/doc-{doc:07d}.md"
        words = self._topic[label]
        text = " ".join([words[int(t)] for t in topic] + [self._filler[int(f)] for f in filler])
        return Chunk(
            chunk_id=point_id(i),
            doc_id=document_id(source),
            source=source,
            index=i % self.config.chunks_per_doc,
            text=text,
            title=f"{words[0]} {words[1]} {doc}",
            file_type="md",
            access=self.document_access(doc),
        )


def point_id(i: int) -> str:
    """Chunk ids are UUIDs in the product; the integer inside maps a hit back to its row for numpy."""
    return str(uuid.UUID(int=i + 1))


def row_of(chunk_id: str) -> int:
    return uuid.UUID(chunk_id).int - 1


# -- measuring ------------------------------------------------------------------------------------------

Search = Callable[[Query], list[str]]


@dataclass(slots=True)
class Run:
    """Latency samples (ms) and the ids each query returned."""

    samples: list[float] = field(default_factory=list)
    ids: list[list[str]] = field(default_factory=list)

    def stats(self, limit: int | None = None) -> dict[str, float]:
        return percentiles(self.samples[:limit])


def time_interleaved(searches: dict[str, Search], queries: Sequence[Query], warmup: int) -> dict[str, Run]:
    """Every query goes through every search in turn, in a rotating order, so load from other processes
    and the warming of caches fall on all searches alike instead of on whichever would run first."""
    names = list(searches)
    for query in queries[:warmup]:
        for name in names:
            searches[name](query)  # page faults and lazy loads: not what a steady-state query costs
    runs = {name: Run() for name in names}
    for number, query in enumerate(queries):
        shift = number % len(names)
        for name in names[shift:] + names[:shift]:
            start = time.perf_counter()
            ids = searches[name](query)
            runs[name].samples.append((time.perf_counter() - start) * 1000)
            runs[name].ids.append(ids)
    return runs


def identical_share(found: Sequence[Sequence[str]], other: Sequence[Sequence[str]]) -> float:
    """Share of queries where two searches returned exactly the same ids in the same order."""
    same = [list(a) == list(b) for a, b in zip(found, other, strict=True)]
    return round(sum(same) / len(same), 4) if same else 0.0


def recall_at_k(found: Sequence[Sequence[str]], truth: Sequence[Sequence[str]], k: int = TOP_K) -> float:
    """Mean share of the true top-k that a search returned in its own top-k."""
    scores = [len(set(f[:k]) & set(t[:k])) / min(k, len(t)) for f, t in zip(found, truth, strict=False) if t]
    return round(float(np.mean(scores)), 4) if scores else 0.0


def ratio(numerator: float, denominator: float) -> float | None:
    """Four significant digits: Edge against the pure-Python baseline is a ratio of a few thousandths."""
    return float(f"{numerator / denominator:.4g}") if denominator > 0 else None


def store_search(store: VectorStore, mode: SearchMode, limit: int = TOP_K) -> Search:
    """The product's search path: SearchRequest -> store.search -> Hits."""

    def search(query: Query) -> list[str]:
        request = SearchRequest(text=query.text, dense=query.vector, mode=mode, limit=limit)
        return [hit.chunk.chunk_id for hit in store.search(request)]

    return search


def shard_search(store: EdgeStore, params: qe.SearchParams | None) -> Search:
    """Dense search on the store's own open shard with explicit search params (exact, hnsw_ef).

    EdgeStore has no exact mode and fixes hnsw_ef when opened, and a second handle on the shard would hit
    its WAL lock, so this borrows the private handle. Payload is fetched as the product's search does,
    to compare like for like.
    """
    shard = raw_shard(store)

    def search(query: Query) -> list[str]:
        request = qe.QueryRequest(
            limit=TOP_K, query=qe.Query.Nearest(query.vector, using=DENSE), with_payload=True, params=params
        )
        return [str(point.id) for point in shard.query(request)]

    return search


def raw_shard(store: EdgeStore) -> Any:
    return store._shard


def numpy_top_k(vectors: Matrix, queries: Sequence[Query]) -> list[list[str]]:
    """Brute-force cosine top-k (vectors are unit length): an independent check of Edge's exact search."""
    matrix = np.asarray([q.vector for q in queries], dtype=np.float32)
    scores = matrix @ vectors.T
    top = np.argpartition(-scores, TOP_K, axis=1)[:, :TOP_K]
    ordered = np.take_along_axis(top, np.argsort(-np.take_along_axis(scores, top, axis=1), axis=1), axis=1)
    return [[point_id(int(i)) for i in row] for row in ordered]


def streamed_top_k(corpus: SyntheticCorpus, queries: Sequence[Query]) -> list[list[str]]:
    """Brute-force cosine top-k over the corpus regenerated batch by batch, keeping each query's best k:
    the truth where the vectors do not fit in memory at once."""
    matrix = np.asarray([q.vector for q in queries], dtype=np.float32)
    best_scores = np.full((len(queries), TOP_K), -np.inf, dtype=np.float32)
    best_rows = np.zeros((len(queries), TOP_K), dtype=np.int64)
    start = 0
    for vectors in corpus.vector_batches():
        scores = np.concatenate([best_scores, matrix @ vectors.T], axis=1)
        rows = np.concatenate(
            [
                best_rows,
                np.broadcast_to(np.arange(start, start + len(vectors)), (len(queries), len(vectors))),
            ],
            axis=1,
        )
        top = np.argpartition(-scores, TOP_K, axis=1)[:, :TOP_K]
        best_scores, best_rows = (
            np.take_along_axis(scores, top, axis=1),
            np.take_along_axis(rows, top, axis=1),
        )
        start += len(vectors)
    order = np.argsort(-best_scores, axis=1)
    return [[point_id(int(i)) for i in row] for row in np.take_along_axis(best_rows, order, axis=1)]


def allocated_mib(path: Path) -> float:
    """Blocks actually allocated: the engine preallocates sparse files (32 MiB WAL segments, mmap pages),
    so their apparent size overstates what the store occupies on disk."""
    total = sum(f.stat().st_blocks * 512 for f in path.rglob("*") if f.is_file())
    return round(total / 2**20, 2)


def disk_usage(collection_dir: Path) -> dict[str, float]:
    shard = collection_dir / "shard"
    return {
        "allocated_mib": allocated_mib(collection_dir),
        "apparent_mib": dir_size_mib(collection_dir),
        "segments_allocated_mib": allocated_mib(shard / "segments"),
        "wal_allocated_mib": allocated_mib(shard / "wal"),
    }


def load_average() -> list[float]:
    """Other work on the machine skews latencies; the 1/5/15-minute load averages record how busy it was."""
    return [round(x, 2) for x in os.getloadavg()]


def edge_settings(
    data_dir: Path, storage: str = "memory", oversampling: float = DEFAULT_OVERSAMPLING
) -> Settings:
    # hnsw_threshold=0: optimize (build HNSW) at every size; the product waits for 20k chunks by default.
    return load_settings(
        data_dir=data_dir,
        collection=COLLECTION,
        qdrant_url=None,
        embedder=f"sentence-transformers:{QUERY_EMBEDDER}",
        hnsw_threshold=0,
        store_oversampling=oversampling,
        **STORAGES[storage],
    )


def open_edge(
    data_dir: Path,
    spec: StoreSpec | None,
    storage: str = "memory",
    oversampling: float = DEFAULT_OVERSAMPLING,
) -> EdgeStore:
    """The product's store; reopen with the ``storage`` it was built with, or it changes in place."""
    store = open_store(edge_settings(data_dir, storage, oversampling), spec)
    assert isinstance(store, EdgeStore)
    return store


def rss_split_mib() -> dict[str, float]:
    """Resident memory by kind: anonymous (the engine's own heap) and file-backed (mmap pages of the
    store's files, which the kernel can drop and read again: with vectors on disk most of a build's RSS)."""
    split: dict[str, float] = {}
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if name in ("RssAnon", "RssFile"):
                split[f"{name[3:].lower()}_rss_mib"] = round(int(value.split()[0]) / 1024, 1)
    except OSError:
        pass
    return split


class BuildProgress:
    """What a long build has done so far, in a JSON file rewritten every ``every_s`` seconds and at each
    stage: a 10M build takes hours, and a run cut short should still say how far it got and how fast."""

    def __init__(self, path: Path | None, size: int, storage: str, every_s: float = 60.0) -> None:
        self._path, self._every_s = path, every_s
        self._state: dict[str, Any] = {"size": size, "storage": storage, "stage": "upsert", "chunks": 0}
        self._started = time.perf_counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, daemon=True) if path else None

    def __enter__(self) -> BuildProgress:
        if self._thread is not None:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self.update(stage="done" if exc[0] is None else f"failed: {exc[1]}")

    def update(self, **state: Any) -> None:
        self._state |= state
        self._write()

    def _beat(self) -> None:
        while not self._stop.wait(self._every_s):
            self._write()

    def _write(self) -> None:
        if self._path is None:
            return
        elapsed = time.perf_counter() - self._started
        snapshot = self._state | {
            "elapsed_s": round(elapsed, 1),
            "rss_mib": current_rss_mib(),
            **rss_split_mib(),
            "peak_rss_mib": peak_rss_mib(),
            "load_average": load_average(),
            "written_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        tmp = self._path.with_suffix(".tmp")
        tmp.write_text(json.dumps(snapshot, indent=1))
        tmp.replace(self._path)


# -- stages of one size ---------------------------------------------------------------------------------


def build_edge(
    corpus: SyntheticCorpus,
    data_dir: Path,
    spec: StoreSpec,
    storage: str = "memory",
    progress_json: Path | None = None,
    optimize_every: int | None = None,
    resume: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], Matrix | None]:
    """Ingest and optimize; keep the vectors for the numpy check only where they fit comfortably.

    ``optimize_every``: also optimise each time that many more chunks are in, as ingesting in steps
    does; ``optimize_s`` then sums every pass and ``steps`` records each one. After each step the
    build so far is recorded beside the store (PARTIAL_RECORD): ``resume`` is that record, and the
    build goes on from its last step, its seconds added to the ones recorded."""
    resume = resume or {}
    first_batch = int(resume.get("chunks", 0)) // corpus.batch
    keep = corpus.size <= corpus.config.numpy_check_max and not first_batch
    kept: list[Matrix] = []
    generate_s, upsert_s, optimize_s = (
        float(resume.get(key, 0.0)) for key in ("generate_s", "upsert_s", "optimize_s")
    )
    steps: list[dict[str, Any]] = list(resume.get("optimize_steps", []))
    resumed = list(resume.get("resumed_at_chunks", [])) + ([first_batch * corpus.batch] if resume else [])
    store = open_edge(data_dir, spec, storage)

    def optimize_step(done: int) -> None:
        nonlocal optimize_s
        progress(f"  {done:,} chunks in ({upsert_s:.0f} s of upsert); optimizing (HNSW build)")
        snapshot.update(stage="optimize", chunks=done, upsert_s=round(upsert_s, 1))
        start = time.perf_counter()
        store.optimize()
        took = time.perf_counter() - start
        optimize_s += took
        step = {
            "chunks": done,
            "optimize_s": round(took, 1),
            "segments": raw_shard(store).info().segments_count,
            "disk_allocated_mib": disk_usage(data_dir / COLLECTION)["allocated_mib"],
            **rss_split_mib(),
            "load_average": load_average(),
        }
        steps.append(step)
        snapshot.update(stage="upsert", optimize_s=round(optimize_s, 1), steps=steps)
        progress(f"  optimized in {took:.0f} s: {step}")
        # Everything up to here is optimised and flushed: a build cut short after this goes on from it.
        (data_dir / PARTIAL_RECORD).write_text(
            json.dumps(
                {
                    "chunks": done,
                    "generate_s": round(generate_s, 2),
                    "upsert_s": round(upsert_s, 2),
                    "optimize_s": round(optimize_s, 2),
                    "optimize_steps": steps,
                    "resumed_at_chunks": resumed,
                }
            )
        )

    try:
        with BuildProgress(progress_json, corpus.size, storage) as snapshot:
            clock = time.perf_counter()
            for number, (chunks, vectors) in enumerate(corpus.batches(first_batch), start=first_batch):
                now = time.perf_counter()
                generate_s += now - clock
                store.upsert(chunks, vectors.tolist())
                upsert_s += time.perf_counter() - now
                if keep:
                    kept.append(vectors)
                done = (number + 1) * corpus.batch
                if number % 50 == 49:
                    snapshot.update(chunks=done, upsert_s=round(upsert_s, 1), generate_s=round(generate_s, 1))
                    progress(
                        f"  upserted {done:,} chunks ({upsert_s:.0f} s, RSS {current_rss_mib():,.0f} MiB)"
                    )
                if optimize_every and done % optimize_every == 0 and done < corpus.size:
                    optimize_step(done)
                clock = time.perf_counter()
            optimize_step(corpus.size)
            info = raw_shard(store).info()  # segments and indexed vectors: proof the HNSW index exists
            count = store.count()
    finally:
        store.close()
    (data_dir / PARTIAL_RECORD).unlink(missing_ok=True)
    build = {
        "chunks": count,
        "generate_s": round(generate_s, 2),
        "upsert_s": round(upsert_s, 2),
        "optimize_s": round(optimize_s, 2),
        "build_s": round(upsert_s + optimize_s, 2),
        "upsert_chunks_per_s": round(corpus.size / upsert_s) if upsert_s else None,
        "optimize_steps": steps,
        "resumed_at_chunks": resumed,  # where a build cut short was continued (in another process)
        "segments": info.segments_count,
        "points": info.points_count,
        # The engine counts the sparse (BM25) index too: dense HNSW is built when this is ~2x points.
        "indexed_vectors_dense_plus_sparse": info.indexed_vectors_count,
        "dense_hnsw_built": info.indexed_vectors_count >= 2 * info.points_count,
        "peak_rss_mib_so_far": peak_rss_mib(),  # this process's peak: the build's, if it ran first
    }
    return build, (np.concatenate(kept) if keep else None)


BUILD_RECORD = "bench-build.json"  # beside a kept store: how it was built, for a --reuse run
PARTIAL_RECORD = "bench-build.partial.json"  # beside a build cut short: how far it got, for --reuse


def record_build(data_dir: Path, build: dict[str, Any]) -> None:
    (data_dir / BUILD_RECORD).write_text(json.dumps(build))


def reused_build(
    corpus: SyntheticCorpus, data_dir: Path, spec: StoreSpec, storage: str = "memory"
) -> dict[str, Any] | None:
    """The build record of a store a --keep run left, if it is complete (same seed and size: the
    generator is deterministic); its vectors are not kept, so the numpy check is skipped.
    bench/access_filter.py's store is this corpus with access labels: the same vectors and texts."""
    record = data_dir / BUILD_RECORD
    if not record.exists():
        return None
    build: dict[str, Any] = json.loads(record.read_text())
    store = open_edge(data_dir, spec, storage)
    try:
        complete = store.count() == corpus.size == build["chunks"]
    finally:
        store.close()
    if complete:
        progress(
            f"[{corpus.size:,} {storage}] reusing the store in {data_dir} (built in {build['build_s']} s)"
        )
    return build | {"reused": True} if complete else None


def reopen_probe(
    data_dir: str,
    queries: list[tuple[str, Vector]],
    storage: str = "memory",
    oversampling: float = DEFAULT_OVERSAMPLING,
) -> dict[str, float]:
    """Runs in a fresh process, as a restarted server would: open the store, time the first query, and
    measure what the open store adds to resident memory once it has answered the queries the way the
    server does (hybrid: the dense index, the BM25 index and the payloads), split into anonymous memory
    (the engine's heap, which must fit) and file-backed pages (the store's files, which the kernel
    drops and reads again under pressure)."""
    before, split_before = current_rss_mib(), rss_split_mib()
    start = time.perf_counter()
    store = open_edge(Path(data_dir), None, storage, oversampling)
    open_s = time.perf_counter() - start
    try:
        opened = rss_split_mib()
        text, vector = queries[0]
        first = time.perf_counter()
        store.search(SearchRequest(text=text, dense=vector, mode="hybrid", limit=TOP_K))
        first_query_ms = (time.perf_counter() - first) * 1000
        for text, vector in queries[1:]:
            store.search(SearchRequest(text=text, dense=vector, mode="hybrid", limit=TOP_K))
        after, split_after = current_rss_mib(), rss_split_mib()
    finally:
        store.close()

    def added(split: dict[str, float], kind: str) -> float:
        return round(split.get(kind, 0.0) - split_before.get(kind, 0.0), 1)

    return {
        "open_s": round(open_s, 3),
        "first_query_ms": round(first_query_ms, 3),
        "rss_before_open_mib": before,
        "rss_after_queries_mib": after,
        "store_rss_mib": round(after - before, 1),
        "store_anon_rss_mib_opened": added(opened, "anon_rss_mib"),
        "store_anon_rss_mib": added(split_after, "anon_rss_mib"),
        "store_file_rss_mib": added(split_after, "file_rss_mib"),
    }


def measure_reopen(
    data_dir: Path,
    queries: Sequence[Query],
    storage: str = "memory",
    oversampling: float = DEFAULT_OVERSAMPLING,
) -> dict[str, float]:
    spawn = multiprocessing.get_context("spawn")
    pairs = [(q.text, q.vector) for q in queries]
    with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool:
        return pool.submit(reopen_probe, str(data_dir), pairs, storage, oversampling).result()


def measure_edge(
    store: EdgeStore,
    queries: Sequence[Query],
    vectors: Matrix | None,
    config: Config,
    storage: str = "memory",
    truth: list[list[str]] | None = None,
) -> tuple[dict[str, Any], dict[str, Run]]:
    """``truth``: each query's true top 10 from numpy, given above ``exact_max``; Edge's exact search
    is then neither timed nor used."""
    layout = EdgeStorage(
        STORAGES[storage]["store_on_disk"], STORAGES[storage]["store_quantization"], config.oversampling
    )
    quantized = layout.quantization != "none"

    def hnsw(ef: int, oversampling: float = config.oversampling) -> qe.SearchParams:
        """The product's plain HNSW search params for this layout (rescoring included), at ``ef``."""
        return edge_search_params(DensePlan(DenseMethod.HNSW, ef), replace(layout, oversampling=oversampling))

    product_ef = edge_settings(Path(".")).hnsw_ef
    searches = {
        "dense_hnsw": store_search(store, "dense"),
        "hybrid": store_search(store, "hybrid"),
        **{f"ef_{ef}": shard_search(store, hnsw(ef)) for ef in config.ef_sweep},
    }
    if truth is None:
        # The full vectors, whatever the layout: the ground truth.
        exact_params = edge_search_params(DensePlan(DenseMethod.EXACT, None), layout)
        searches["dense_exact"] = shard_search(store, exact_params)
    if quantized:
        searches |= {
            f"oversampling_{x:g}": shard_search(store, hnsw(product_ef, x)) for x in config.oversampling_sweep
        }
    runs = time_interleaved(searches, queries, config.warmup)
    default = runs["dense_hnsw"].ids
    exact = truth if truth is not None else runs["dense_exact"].ids
    sweep = [
        {
            "hnsw_ef": ef,
            **runs[f"ef_{ef}"].stats(),
            "recall_at_10": recall_at_k(runs[f"ef_{ef}"].ids, exact),
            # 1.0: the product's search (RAG_HNSW_EF) returns exactly what this ef does.
            "identical_to_default_share": identical_share(runs[f"ef_{ef}"].ids, default),
        }
        for ef in config.ef_sweep
    ]
    if truth is not None:
        numpy_check: float | str = "the truth itself: numpy over the regenerated corpus (above --exact-max)"
    elif vectors is not None:
        numpy_check = recall_at_k(exact, numpy_top_k(vectors, queries))
    else:
        numpy_check = f"skipped: above --numpy-check-max {config.numpy_check_max}"
    exact_stats: dict[str, Any] = (
        runs["dense_exact"].stats()
        if truth is None
        else {"skipped": f"above --exact-max {config.exact_max:,}: the truth is numpy's", "p95_ms": None}
    )
    result = {
        "dense_hnsw": runs["dense_hnsw"].stats(),
        "dense_exact": exact_stats,
        "hybrid": runs["hybrid"].stats(),
        "recall_at_10_hnsw_vs_exact": recall_at_k(default, exact),
        "recall_at_10_exact_vs_itself": recall_at_k(exact, exact),
        "recall_at_10_exact_vs_numpy": numpy_check,
        "hnsw_ef_sweep": sweep,
    }
    if quantized:
        result["oversampling_sweep"] = [
            {
                "oversampling": x,
                "hnsw_ef": product_ef,
                **runs[f"oversampling_{x:g}"].stats(),
                "recall_at_10": recall_at_k(runs[f"oversampling_{x:g}"].ids, exact),
            }
            for x in config.oversampling_sweep
        ]
    return result, runs


class ReplayEmbedder(ForwardingEmbedder):
    """The real query embedder runs on every query text, so its cost is measured, but the store gets
    the query's synthetic vector: a real MiniLM vector would match nothing in the synthetic space."""

    def __init__(self, real: Embedder, dimension: int) -> None:
        super().__init__(real)
        self._dimension = dimension
        self.vector: Vector = []
        self.last_ms = 0.0

    @property
    def dimension(self) -> int:
        return self._dimension

    def embed_documents(self, texts: Sequence[str]) -> list[Vector]:
        raise NotImplementedError("the benchmark ingests synthetic vectors")

    def embed_query(self, text: str) -> Vector:
        start = time.perf_counter()
        self.inner.embed_query(text)
        self.last_ms = (time.perf_counter() - start) * 1000
        return self.vector


@dataclass(slots=True)
class Models:
    """Loaded once per run and shared by every size."""

    embedder: ReplayEmbedder
    reranker: Any  # rag.rerank.CrossEncoderReranker (imported lazily: it pulls in torch)

    @classmethod
    def load(cls, dimension: int) -> Models:
        from rag.embedding.local import SentenceTransformerEmbedder, resolve_model_path
        from rag.rerank import CrossEncoderReranker

        embedder = ReplayEmbedder(SentenceTransformerEmbedder(QUERY_EMBEDDER), dimension)
        # No cross-encoder weights ship offline: MiniLM-L6 under a fresh classification head has the
        # architecture and cost of cross-encoder/ms-marco-MiniLM-L-6-v2, but its scores mean nothing.
        return cls(embedder, CrossEncoderReranker(resolve_model_path(QUERY_EMBEDDER)))


@dataclass(slots=True)
class Stages:
    """Per-query milliseconds of each end-to-end stage."""

    embed: list[float] = field(default_factory=list)
    retrieve: list[float] = field(default_factory=list)
    rerank: list[float] = field(default_factory=list)
    total: list[float] = field(default_factory=list)
    reranked: list[int] = field(default_factory=list)

    def stats(self, torch_threads: int) -> dict[str, Any]:
        return {
            "embed": percentiles(self.embed),
            "retrieve": percentiles(self.retrieve),
            "rerank": percentiles(self.rerank),
            "total": percentiles(self.total),
            "reranked_per_query": round(float(np.mean(self.reranked)), 1) if self.reranked else 0,
            "torch_threads": torch_threads,
        }


def e2e_query(retriever: Retriever, models: Models, query: Query, candidates: int, into: Stages) -> None:
    models.embedder.vector = query.vector
    start = time.perf_counter()
    hits = retriever.retrieve(query.text, top_k=candidates, mode="hybrid").hits
    middle = time.perf_counter()
    models.reranker.rerank(query.text, hits)
    end = time.perf_counter()
    embed_ms = models.embedder.last_ms
    into.embed.append(embed_ms)
    into.retrieve.append((middle - start) * 1000 - embed_ms)
    into.rerank.append((end - middle) * 1000)
    into.total.append((end - start) * 1000)
    into.reranked.append(len(hits))


def measure_e2e(store: EdgeStore, queries: Sequence[Query], models: Models, config: Config) -> dict[str, Any]:
    """Query embedding + Retriever.retrieve (hybrid search, plus the dense best-similarity lookup the
    answer path makes) + cross-encoder rerank of the candidates: the latency a user's question pays
    before the LLM starts.

    Measured with torch's default intra-op threads (one per core, as the product runs) and with each
    count in ``e2e_torch_threads``, interleaved per query: when other processes keep the cores busy,
    torch's spinning worker threads can slow a MiniLM forward pass down many times over.
    """
    import torch

    variants = torch_variants(config)
    retriever = Retriever(models.embedder, store)
    timed = queries[: config.e2e_queries]
    stages = {name: Stages() for name in variants}
    names = list(variants)
    try:
        for number, query in enumerate([*timed[: config.warmup], *timed]):
            shift = number % len(names)
            for name in names[shift:] + names[:shift]:
                torch.set_num_threads(variants[name])
                sink = stages[name] if number >= config.warmup else Stages()
                e2e_query(retriever, models, query, config.rerank_candidates, sink)
    finally:
        torch.set_num_threads(variants["torch_default_threads"])
    return {name: stages[name].stats(threads) for name, threads in variants.items()}


def measure_rerank_tokens(models: Models, config: Config) -> dict[str, Any]:
    """The reranker's cost grows with passage length, and the synthetic chunks are short (~48 tokens)
    while the product cuts chunks of up to RAG_CHUNK_TOKENS: rerank_candidates passages of each length,
    reranked on their own, interleaved across the torch thread settings like the end-to-end run."""
    import torch

    from rag.types import Hit

    variants = torch_variants(config)
    names = list(variants)
    rng = np.random.default_rng([config.seed, 3])
    words = [pseudo_word(int(i)) for i in rng.integers(0, FILLER_VOCABULARY, 4 * PRODUCT_CHUNK_TOKENS)]
    query = " ".join(words[:8])
    result: dict[str, Any] = {}
    for tokens in config.rerank_tokens:
        hits = [
            Hit(Chunk(point_id(i), "doc", "synthetic.md", i, passage(words, i, tokens, models), "t"), 0.0)
            for i in range(config.rerank_candidates)
        ]
        samples: dict[str, list[float]] = {name: [] for name in names}
        try:
            for repeat in range(config.rerank_repeats + 1):  # the first round warms up
                shift = repeat % len(names)
                for name in names[shift:] + names[:shift]:
                    torch.set_num_threads(variants[name])
                    start = time.perf_counter()
                    models.reranker.rerank(query, hits)
                    if repeat:
                        samples[name].append((time.perf_counter() - start) * 1000)
        finally:
            torch.set_num_threads(variants["torch_default_threads"])
        result[f"{tokens}_tokens"] = {
            name: {**percentiles(samples[name]), "torch_threads": variants[name]} for name in names
        }
    return {"candidates": config.rerank_candidates, "by_passage_tokens": result}


def passage(words: Sequence[str], offset: int, tokens: int, models: Models) -> str:
    """Made-up words until the embedder's tokenizer (the reranker's too: both are MiniLM) counts
    ``tokens``; each passage starts at its own offset so no two are identical."""
    count = 1
    while models.embedder.count_tokens(text := " ".join(words[offset : offset + count])) < tokens:
        count += 1
    return text


def torch_variants(config: Config) -> dict[str, int]:
    """torch's default intra-op thread count (one per core, as the product runs) and the extra counts
    to compare against: on busy cores torch's spinning worker threads slow small models down."""
    import torch

    default = torch.get_num_threads()
    variants = {"torch_default_threads": default}
    return variants | {f"torch_{n}_threads": n for n in config.e2e_torch_threads if n != default}


def measure_baseline(
    corpus: SyntheticCorpus, queries: Sequence[Query], edge: dict[str, Run], config: Config
) -> dict[str, Any]:
    """The same corpus and queries through the product's ServerStore on qdrant-client ``:memory:``."""
    if corpus.size > config.baseline_max:
        return {
            "skipped": f"{corpus.size:,} chunks is above --baseline-max {config.baseline_max:,}: "
            "qdrant-client :memory: is pure Python (~25 s to load and ~0.5 s per hybrid query at 100k)"
        }
    subset = queries[: config.baseline_queries]
    before = current_rss_mib()
    with warnings.catch_warnings():
        # Expected in local mode: payload indexes and search params are no-ops (it always searches
        # exhaustively), and it advises a server above 20k points.
        warnings.filterwarnings("ignore", message="Payload indexes have no effect")
        warnings.filterwarnings("ignore", message="Local mode performs exact")
        warnings.filterwarnings("ignore", message="Local mode is not recommended")
        settings = load_settings(
            qdrant_url=":memory:", collection=COLLECTION, embedder=f"sentence-transformers:{QUERY_EMBEDDER}"
        )
        store = open_store(settings, StoreSpec(SPEC_EMBEDDER, config.dim))
        try:
            start = time.perf_counter()
            for chunks, vectors in corpus.batches():
                store.upsert(chunks, vectors.tolist())
            load_s = time.perf_counter() - start
            loaded = current_rss_mib()
            searches = {"dense": store_search(store, "dense"), "hybrid": store_search(store, "hybrid")}
            runs = time_interleaved(searches, subset, min(config.warmup, 3))
            dense, hybrid = runs["dense"], runs["hybrid"]
        finally:
            store.close()
    del store
    gc.collect()
    edge_dense, edge_hybrid = edge["dense_hnsw"].stats(len(subset)), edge["hybrid"].stats(len(subset))
    return {
        "queries": len(subset),
        "load_s": round(load_s, 2),
        "rss_added_mib": round(loaded - before, 1),
        "dense": dense.stats(),
        "hybrid": hybrid.stats(),
        # qdrant-client's local mode searches exhaustively: it should agree with Edge's exact search.
        "recall_at_10_vs_edge_exact": (
            recall_at_k(dense.ids, edge["dense_exact"].ids[: len(subset)]) if "dense_exact" in edge else None
        ),
        "edge_same_queries": {"dense_hnsw": edge_dense, "hybrid": edge_hybrid},
        "ratio_edge_to_baseline_dense_p95": ratio(edge_dense["p95_ms"], dense.stats()["p95_ms"]),
        "ratio_edge_to_baseline_hybrid_p95": ratio(edge_hybrid["p95_ms"], hybrid.stats()["p95_ms"]),
    }


def measure_size(
    size: int, config: Config, models: Models | None, workdir: Path, storage: str = "memory"
) -> dict[str, Any]:
    started = time.perf_counter()
    load_before = load_average()
    corpus = SyntheticCorpus(size, config)
    queries = corpus.queries(config.queries)
    spec = StoreSpec(SPEC_EMBEDDER, config.dim)
    data_dir = workdir / (f"size-{size}" if storage == "memory" else f"size-{size}-{storage}")
    tag = f"[{size:,} {storage}]"
    build, vectors = reused_build(corpus, data_dir, spec, storage) if config.reuse else None, None
    if build is None:
        partial = data_dir / PARTIAL_RECORD
        resume = json.loads(partial.read_text()) if config.reuse and partial.exists() else None
        if resume is None:
            progress(f"{tag} building the Edge store ({corpus.clusters:,} clusters) in {data_dir}")
            shutil.rmtree(data_dir, ignore_errors=True)
        else:
            progress(f"{tag} continuing the build in {data_dir} after {resume['chunks']:,} chunks")
        build, vectors = build_edge(
            corpus, data_dir, spec, storage, config.progress_json, config.optimize_every, resume
        )
        if config.keep:
            record_build(data_dir, build)
    disk = disk_usage(data_dir / COLLECTION)
    progress(f"{tag} reopening in a fresh process")
    reopen = measure_reopen(data_dir, queries, storage, config.oversampling)
    truth = None
    if size > config.exact_max:
        progress(f"{tag} the true top {TOP_K} by numpy over the regenerated corpus (above --exact-max)")
        truth = streamed_top_k(corpus, queries)
    progress(f"{tag} Edge: HNSW, exact, ef sweep, hybrid")
    store = open_edge(data_dir, spec, storage, config.oversampling)
    try:
        edge, runs = measure_edge(store, queries, vectors, config, storage, truth)
        del vectors
        if models is not None:
            progress(f"{tag} end to end: embed + retrieve + rerank")
            e2e: dict[str, Any] = measure_e2e(store, queries, models, config)
        else:
            e2e = {"skipped": "--no-e2e"}
    finally:
        store.close()
    main_rss = current_rss_mib()
    if not config.keep:
        shutil.rmtree(data_dir, ignore_errors=True)
    progress(f"{tag} qdrant-client :memory: baseline")
    baseline = measure_baseline(corpus, queries, runs, config)
    hnsw, exact = edge["dense_hnsw"], edge["dense_exact"]
    progress(
        f"{tag} done in {time.perf_counter() - started:.0f} s: HNSW p95 {hnsw['p95_ms']} ms, "
        f"exact p95 {exact['p95_ms']} ms, recall@10 {edge['recall_at_10_hnsw_vs_exact']}"
    )
    return {
        "size": size,
        "storage": storage,
        "clusters": corpus.clusters,
        "build": build,
        "disk": disk,
        "reopen": reopen,
        "edge": edge,
        "e2e": e2e,
        "baseline_qdrant_client_memory": baseline,
        "ratios": {
            "hnsw_to_exact_p95": ratio(hnsw["p95_ms"], exact["p95_ms"]) if exact["p95_ms"] else None,
            "hybrid_to_dense_hnsw_p95": ratio(edge["hybrid"]["p95_ms"], hnsw["p95_ms"]),
            "edge_to_baseline_dense_p95": baseline.get("ratio_edge_to_baseline_dense_p95"),
            "edge_to_baseline_hybrid_p95": baseline.get("ratio_edge_to_baseline_hybrid_p95"),
        },
        "main_process_rss_mib": main_rss,
        "load_average_before_after": [load_before, load_average()],
        "elapsed_s": round(time.perf_counter() - started, 1),
    }


# -- the run ---------------------------------------------------------------------------------------------

TARGET_P95_MS = 50.0
TARGET_RECALL = 0.95


def summarise(results: Sequence[dict[str, Any]]) -> dict[str, Any]:
    table = [_row(r) for r in results]
    largest = results[-1] if results else None
    target: dict[str, Any] = {"p95_ms_under": TARGET_P95_MS, "recall_at_10_at_least": TARGET_RECALL}
    if largest is not None:
        edge = largest["edge"]
        target |= {
            "size": largest["size"],
            "dense_hnsw_p95_ms": edge["dense_hnsw"]["p95_ms"],
            "hybrid_p95_ms": edge["hybrid"]["p95_ms"],
            "recall_at_10": edge["recall_at_10_hnsw_vs_exact"],
            "met_dense": edge["dense_hnsw"]["p95_ms"] < TARGET_P95_MS
            and edge["recall_at_10_hnsw_vs_exact"] >= TARGET_RECALL,
            "met_hybrid": edge["hybrid"]["p95_ms"] < TARGET_P95_MS
            and edge["recall_at_10_hnsw_vs_exact"] >= TARGET_RECALL,
        }
    return {"table": table, "target": target}


def _row(result: dict[str, Any]) -> dict[str, Any]:
    edge, e2e, base = result["edge"], result["e2e"], result["baseline_qdrant_client_memory"]
    return {
        "size": result["size"],
        "storage": result["storage"],
        "hnsw_p50_ms": edge["dense_hnsw"]["p50_ms"],
        "hnsw_p95_ms": edge["dense_hnsw"]["p95_ms"],
        "hnsw_p99_ms": edge["dense_hnsw"]["p99_ms"],
        "exact_p95_ms": edge["dense_exact"]["p95_ms"],
        "hnsw_to_exact_p95": result["ratios"]["hnsw_to_exact_p95"],
        "recall_at_10": edge["recall_at_10_hnsw_vs_exact"],
        "hybrid_p95_ms": edge["hybrid"]["p95_ms"],
        **_e2e_columns("e2e", e2e.get("torch_default_threads", {})),
        **_e2e_columns("e2e_1_thread", e2e.get("torch_1_threads", {})),
        "baseline_dense_p95_ms": base.get("dense", {}).get("p95_ms"),
        "baseline_hybrid_p95_ms": base.get("hybrid", {}).get("p95_ms"),
        "edge_to_baseline_dense_p95": result["ratios"]["edge_to_baseline_dense_p95"],
        "edge_to_baseline_hybrid_p95": result["ratios"]["edge_to_baseline_hybrid_p95"],
        "store_rss_mib": result["reopen"]["store_rss_mib"],
        "disk_mib": result["disk"]["allocated_mib"],
        "reopen_s": result["reopen"]["open_s"],
        "first_query_ms": result["reopen"]["first_query_ms"],
        "build_s": result["build"]["build_s"],
        "build_peak_rss_mib_so_far": result["build"].get("peak_rss_mib_so_far"),  # none if reused
    }


def _e2e_columns(prefix: str, e2e: dict[str, Any]) -> dict[str, Any]:
    return {
        f"{prefix}_{stage}_p95_ms": e2e.get(stage, {}).get("p95_ms")
        for stage in ("total", "embed", "retrieve", "rerank")
    }


NOTES = [
    "Latencies are wall-clock per query in this process, single client, after warm-up queries; the "
    "searches compared at one size run interleaved (each query through each, rotating order).",
    "dense_hnsw and hybrid go through the product's EdgeStore.search, with the product's hnsw_ef "
    "(RAG_HNSW_EF, product_hnsw_ef); dense_exact and the hnsw_ef sweep query the same open shard with "
    "qdrant_edge SearchParams (EdgeStore has no exact mode and fixes hnsw_ef when opened).",
    "HNSW is built with the product's shard config (engine defaults for m and ef_construct); the bench "
    "sets hnsw_threshold=0 so optimize() builds HNSW at every size (the product default waits for 20k). "
    "The build is multi-threaded and not deterministic: recall at a given hnsw_ef varies a little "
    "between runs.",
    "recall_at_10 is HNSW top-10 against Edge exact top-10 on the same shard; exact itself is checked "
    "against numpy brute force up to numpy_check_max.",
    "e2e: real all-MiniLM-L6-v2 query embedding (its cost; the store gets the synthetic vector), "
    "Retriever.retrieve in hybrid mode (hybrid search + the dense best-similarity lookup), then "
    "CrossEncoderReranker over rerank_candidates passages, on the first e2e_queries queries. The "
    "reranker is all-MiniLM-L6-v2 under an untrained classification head: same architecture and cost as "
    "cross-encoder/ms-marco-MiniLM-L-6-v2, meaningless scores (no cross-encoder weights offline). "
    "Measured with torch's default threads (one per core, as the product runs) and with "
    "e2e_torch_threads, interleaved: on busy cores torch's spinning threads slow the models down.",
    "Production embeds with nomic-embed-text (768-d, via Ollama): rerun with --dim 768 for its vector "
    "size; the embed stage still times MiniLM.",
    "reopen runs in a fresh process (warm OS page cache: the files were just written). store_rss_mib "
    "is that process's resident memory after opening and answering the queries in hybrid mode (as the "
    "server does) minus before opening; store_anon_rss_mib is the engine's own heap (what must fit), "
    "store_file_rss_mib the pages of the store's files it read (dropped by the kernel under pressure).",
    "disk: allocated blocks (what the store occupies); apparent size counts the engine's preallocated "
    "sparse files (WAL segments, mmap pages) at full length.",
    "load_average_before_after: 1/5/15-minute load averages; other work on the machine inflates "
    "latencies (this machine may run other jobs).",
    "Baseline: the product's ServerStore on qdrant-client ':memory:' (pure-Python local mode, exhaustive "
    "search), on the first baseline_queries queries; ratios compare Edge on those same queries.",
]


def run(config: Config) -> dict[str, Any]:
    """Measure every size; returns the JSON-ready result (``main`` prints it)."""
    workdir = config.workdir or Path(tempfile.mkdtemp(prefix="bench-query-"))
    workdir.mkdir(parents=True, exist_ok=True)
    models = Models.load(config.dim) if config.e2e else None
    results = []
    try:
        for size in config.sizes:
            for storage in config.storages:
                results.append(measure_size(size, config, models, workdir, storage))
                gc.collect()
    finally:
        if not config.keep and config.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    progress("rerank cost by passage length")
    rerank: dict[str, Any] = measure_rerank_tokens(models, config) if models else {"skipped": "--no-e2e"}
    return {
        "benchmark": "query",
        "config": {
            **config.describe(),
            "query_embedder": QUERY_EMBEDDER,
            "product_hnsw_ef": edge_settings(workdir).hnsw_ef,
            "notes": NOTES,
        },
        "results": results,
        "rerank_cost": rerank,
        "summary": summarise(results),
        "peak_rss_mib": peak_rss_mib(),
    }


def _joined(numbers: Sequence[int]) -> str:
    return ",".join(str(n) for n in numbers)


def parse_args(argv: Sequence[str] | None) -> Config:
    parser = argparse.ArgumentParser(prog="python -m bench.query", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default=_joined(Config.sizes), help="comma-separated chunk counts")
    parser.add_argument("--queries", type=int, default=Config.queries)
    parser.add_argument("--dim", type=int, default=Config.dim, help="384 (MiniLM); nomic-embed-text is 768")
    parser.add_argument("--seed", type=int, default=Config.seed)
    parser.add_argument("--points-per-cluster", type=int, default=Config.points_per_cluster)
    parser.add_argument("--noise", type=float, default=Config.noise, help="noise norm per unit centre")
    parser.add_argument(
        "--batch", type=int, default=Config.batch, help="chunks generated and upserted at once"
    )
    parser.add_argument("--warmup", type=int, default=Config.warmup, help="untimed queries first")
    parser.add_argument(
        "--ef-sweep", default=_joined(Config.ef_sweep), help="hnsw_ef values to try ('' for none)"
    )
    parser.add_argument("--rerank-candidates", type=int, default=Config.rerank_candidates)
    parser.add_argument("--e2e-queries", type=int, default=Config.e2e_queries)
    parser.add_argument(
        "--rerank-tokens", default=_joined(Config.rerank_tokens), help="passage lengths to rerank alone"
    )
    parser.add_argument("--rerank-repeats", type=int, default=Config.rerank_repeats)
    parser.add_argument(
        "--e2e-torch-threads",
        default=_joined(Config.e2e_torch_threads),
        help="torch thread counts to measure end to end besides the default ('' for none)",
    )
    parser.add_argument("--numpy-check-max", type=int, default=Config.numpy_check_max)
    parser.add_argument(
        "--exact-max",
        type=int,
        default=Config.exact_max,
        help="above this, the truth is numpy's, not Edge's exact search",
    )
    parser.add_argument("--baseline-max", type=int, default=Config.baseline_max)
    parser.add_argument("--baseline-queries", type=int, default=Config.baseline_queries)
    parser.add_argument("--no-e2e", action="store_true", help="skip the embed + rerank stages")
    parser.add_argument(
        "--storages",
        default="memory",
        help=f"store layouts to measure side by side at each size, in this order: {', '.join(STORAGES)}",
    )
    parser.add_argument("--oversampling", type=float, default=DEFAULT_OVERSAMPLING, help="8-bit layouts")
    parser.add_argument(
        "--oversampling-sweep", default="1,2,4", help="oversampling values to try on the 8-bit layouts"
    )
    parser.add_argument("--progress-json", type=Path, help="rewrite a snapshot of the build here as it goes")
    parser.add_argument(
        "--optimize-every", type=int, help="also optimise each time this many more chunks are in (10M builds)"
    )
    parser.add_argument("--workdir", type=Path, help="where the stores go (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the stores on disk")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="search the stores a --keep run left in --workdir, if complete; else go on with a build that "
        "was cut short after an --optimize-every step",
    )
    args = parser.parse_args(argv)
    if args.reuse and not (args.workdir and args.keep):
        parser.error("--reuse needs --workdir and --keep (the stores it reuses are kept for the next run)")
    storages = tuple(dict.fromkeys(s.strip() for s in args.storages.split(",") if s.strip()))
    unknown = [s for s in storages if s not in STORAGES]
    if unknown or not storages:
        parser.error(f"--storages: {', '.join(unknown) or 'none given'}; choose from {', '.join(STORAGES)}")
    return Config(
        sizes=tuple(sorted({int(s) for s in args.sizes.split(",") if s.strip()})),
        queries=args.queries,
        dim=args.dim,
        seed=args.seed,
        points_per_cluster=args.points_per_cluster,
        noise=args.noise,
        batch=args.batch,
        warmup=args.warmup,
        ef_sweep=tuple(int(s) for s in args.ef_sweep.split(",") if s.strip()),
        rerank_candidates=args.rerank_candidates,
        e2e_queries=args.e2e_queries,
        rerank_tokens=tuple(int(s) for s in args.rerank_tokens.split(",") if s.strip()),
        rerank_repeats=args.rerank_repeats,
        e2e_torch_threads=tuple(int(s) for s in args.e2e_torch_threads.split(",") if s.strip()),
        numpy_check_max=args.numpy_check_max,
        baseline_max=args.baseline_max,
        baseline_queries=args.baseline_queries,
        e2e=not args.no_e2e,
        storages=storages,
        oversampling=args.oversampling,
        oversampling_sweep=tuple(float(s) for s in args.oversampling_sweep.split(",") if s.strip()),
        progress_json=args.progress_json,
        optimize_every=args.optimize_every,
        exact_max=args.exact_max,
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
