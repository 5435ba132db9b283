"""Ingest throughput: parse, chunk, embed and upsert measured separately, against a naive baseline.

    python -m bench.ingest [--documents 60] [--words 1200]

Both runs ingest the same generated corpus (bench/corpus.py) into their own embedded store, after a
warm-up that pays the one-off costs (parser imports, model load) for neither:

- product: `IngestService.sync`, the path `rag ingest`, uploads and the watcher use;
- naive baseline: one file at a time, one chunk per embed call and per upsert, no batching.

It prints one JSON object: per-stage seconds and throughput, the share of wall time that is not
embedding, and the baseline/product ratio. The embedder is RAG_EMBEDDER (default: the packaged
all-MiniLM-L6-v2; with Ollama's nomic-embed-text, embedding dominates even more).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from unittest.mock import patch

import ingest.service as service_module
from bench.common import Stopwatch, emit, peak_rss_mib, progress
from bench.corpus import FORMATS, generate
from rag.config import Settings
from rag.embedding import Embedder, make_embedder
from rag.embedding.base import ForwardingEmbedder, Vector
from rag.knowledge_base import KnowledgeBase
from rag.store import VectorStore, open_store
from rag.types import Chunk, StoreSpec

QUICKSTART_EMBEDDER = "sentence-transformers:all-MiniLM-L6-v2"


class TimedEmbedder(ForwardingEmbedder):
    """The real embedder; every embed_documents call is timed and counted."""

    def __init__(self, inner: Embedder, clock: Stopwatch) -> None:
        super().__init__(inner)
        self.clock = clock
        self.calls = 0
        self.texts: list[str] = []  # what was embedded, for the embedding-only floor

    def embed_documents(self, texts: Sequence[str]) -> list[Vector]:
        self.calls += 1
        self.texts.extend(texts)
        with self.clock.stage("embed"):
            return self.inner.embed_documents(texts)


class TimedStore:
    """The real store; upserts are timed, everything else passes straight through."""

    def __init__(self, inner: VectorStore, clock: Stopwatch) -> None:
        self._inner = inner
        self._clock = clock

    def upsert(self, chunks: Sequence[Chunk], vectors: Sequence[Sequence[float]]) -> None:
        with self._clock.stage("upsert"):
            self._inner.upsert(chunks, vectors)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


@contextmanager
def timed_parsing(clock: Stopwatch) -> Iterator[None]:
    """Time the parser and the chunker where the ingest service calls them."""
    import ingest.service as service

    parse, chunk = service.IngestService.parse, service.chunk_document  # type: ignore[attr-defined]

    def timed_parse(self: Any, path: Path) -> Any:
        with clock.stage("parse"):
            return parse(self, path)

    def timed_chunk(*args: Any, **kwargs: Any) -> Any:
        with clock.stage("chunk"):
            return chunk(*args, **kwargs)

    with (
        patch.object(service.IngestService, "parse", timed_parse),
        patch.object(service, "chunk_document", timed_chunk),
    ):
        yield


def _settings(data_dir: Path, embedder: str) -> Settings:
    return Settings(data_dir=data_dir, embedder=embedder, _env_file=None)  # type: ignore[call-arg]


def run_product(
    files: Sequence[Path], root: Path, embedder: Embedder, data_dir: Path, parse_ahead: bool | None = None
) -> tuple[dict[str, Any], list[str]]:
    """``parse_ahead``: None lets the service decide (as in production); True/False force it."""
    from ingest.service import IngestService

    clock = Stopwatch()
    settings = _settings(data_dir, embedder.name)
    timed_embedder = TimedEmbedder(embedder, clock)
    store = TimedStore(open_store(settings, StoreSpec(embedder.name, embedder.dimension)), clock)
    kb = KnowledgeBase(settings, embedder=timed_embedder, store=store)
    decided = service_module.parse_ahead_pays(embedder.name) if parse_ahead is None else parse_ahead
    try:
        with (
            patch.object(service_module, "parse_ahead_pays", lambda name: decided),
            timed_parsing(clock),
            clock.stage("wall"),
            IngestService(kb) as service,
        ):
            report = service.sync([root])
    finally:
        kb.close()
    if report.failed:
        raise RuntimeError(f"the generated corpus failed to ingest: {report.failed}")
    summary = _summary(clock, len(files), report.chunks_embedded, _bytes(files), timed_embedder.calls)
    return {"parse_ahead": decided, **summary}, timed_embedder.texts


def run_naive(files: Sequence[Path], embedder: Embedder, data_dir: Path) -> dict[str, Any]:
    """What a first version usually does: for each file, for each chunk, embed it and write it."""
    from ingest.chunk import ChunkingPolicy, chunk_document
    from ingest.parse import parse_file
    from ingest.service import sha256_file, source_of
    from rag.types import document_id

    clock = Stopwatch()
    settings = _settings(data_dir, embedder.name)
    store = open_store(settings, StoreSpec(embedder.name, embedder.dimension))
    policy = ChunkingPolicy.of(settings, embedder)
    chunks_total = calls = 0
    try:
        with clock.stage("wall"):
            for path in files:
                with clock.stage("parse"):
                    parsed = parse_file(path)
                source = source_of(path)
                with clock.stage("chunk"):
                    chunks = chunk_document(
                        parsed,
                        doc_id=document_id(source),
                        source=source,
                        sha256=sha256_file(path),
                        policy=policy,
                    )
                for chunk in chunks:
                    with clock.stage("embed"):
                        vector = embedder.embed_documents([chunk.embed_text])[0]
                    calls += 1
                    with clock.stage("upsert"):
                        store.upsert([chunk], [vector])
                chunks_total += len(chunks)
    finally:
        store.close()
    return _summary(clock, len(files), chunks_total, _bytes(files), calls)


def embedding_only(texts: Sequence[str], embedder: Embedder) -> float:
    """The floor: the same texts embedded in one batched pass, with nothing else going on."""
    start = time.perf_counter()
    embedder.embed_documents(texts)
    return time.perf_counter() - start


def _bytes(files: Sequence[Path]) -> int:
    return sum(f.stat().st_size for f in files)


def _summary(clock: Stopwatch, documents: int, chunks: int, size: int, embed_calls: int) -> dict[str, Any]:
    s = clock.seconds
    wall = s["wall"]
    # Busy seconds per stage. In the product they overlap (parsing runs on its own thread), so they
    # need not add up to the wall time.
    stages = {name: round(s.get(name, 0.0), 3) for name in ("parse", "chunk", "embed", "upsert")}
    return {
        "documents": documents,
        "chunks": chunks,
        "megabytes": round(size / 2**20, 3),
        "embed_calls": embed_calls,
        "wall_s": round(wall, 3),
        "stage_s": stages,
        "throughput": {
            "documents_per_s": round(documents / wall, 2),
            "chunks_per_s": round(chunks / wall, 2),
            "parse_mb_per_s": round(size / 2**20 / s["parse"], 3) if s.get("parse") else None,
            "chunk_chunks_per_s": round(chunks / s["chunk"], 1) if s.get("chunk") else None,
            "embed_chunks_per_s": round(chunks / s["embed"], 2) if s.get("embed") else None,
            "upsert_chunks_per_s": round(chunks / s["upsert"], 1) if s.get("upsert") else None,
        },
        # The share of wall time the embedder sat idle: parsing, chunking, writing, waiting.
        "non_embedding_share": round(1 - s.get("embed", 0.0) / wall, 4) if wall else None,
    }


def warm_up(files: Sequence[Path], embedder: Embedder) -> float:
    """Pay the one-off costs before either run: one file of each format parsed, the model loaded."""
    from ingest.parse import parse_file

    start = time.perf_counter()
    seen: set[str] = set()
    for path in files:
        if path.suffix not in seen:
            seen.add(path.suffix)
            parse_file(path)
    embedder.embed_documents(["warm up"])
    return time.perf_counter() - start


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--documents", type=int, default=60, help="How many documents to generate.")
    parser.add_argument("--words", type=int, default=1200, help="Words per document.")
    parser.add_argument("--skip-naive", action="store_true", help="Measure the product path only.")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    embedder_name = os.environ.get("RAG_EMBEDDER", QUICKSTART_EMBEDDER)

    with tempfile.TemporaryDirectory(prefix="rag-bench-ingest-") as tmp:
        work = Path(tmp)
        progress(f"generating {args.documents} documents ({', '.join(FORMATS)})")
        files = generate(work / "corpus", args.documents, args.words)
        embedder = make_embedder(_settings(work / "unused", embedder_name))
        warm = warm_up(files, embedder)
        progress("product pipeline (IngestService.sync)")
        product, texts = run_product(files, work / "corpus", embedder, work / "product")
        progress(
            f"product pipeline, parse-ahead {'off' if product['parse_ahead'] else 'on'} (the other choice)"
        )
        other, _ = run_product(
            files, work / "corpus", embedder, work / "product-other", parse_ahead=not product["parse_ahead"]
        )
        naive = None
        if not args.skip_naive:
            progress("naive baseline (one chunk per embed call and upsert)")
            naive = run_naive(files, embedder, work / "naive")
        progress("embedding-only floor")
        floor = embedding_only(texts, embedder)
    result: dict[str, Any] = {
        "benchmark": "ingest",
        "config": {"documents": args.documents, "words_per_document": args.words, "embedder": embedder_name},
        "warm_up_s": round(warm, 2),
        "product": product,
        "product_other_parse_ahead": other,
        "naive_baseline": naive,
        "embedding_only_s": round(floor, 3),
        "peak_rss_mib": peak_rss_mib(),
        "ratios": {
            # > 1: the product is that many times faster than the naive loop on the same corpus.
            "naive_wall_over_product_wall": round(naive["wall_s"] / product["wall_s"], 2) if naive else None,
            "naive_embed_over_product_embed": (
                round(naive["stage_s"]["embed"] / product["stage_s"]["embed"], 2) if naive else None
            ),
            # How much longer the whole ingest takes than embedding the same chunks alone.
            "product_wall_over_embedding_only": round(product["wall_s"] / floor, 3),
            # > 1: the service's parse-ahead choice for this machine was the faster one.
            "other_parse_ahead_wall_over_product_wall": round(other["wall_s"] / product["wall_s"], 3),
        },
    }
    emit(result)
    return result


if __name__ == "__main__":
    main()
