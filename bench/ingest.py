"""Ingest throughput: parse, chunk, embed and upsert measured separately, against baselines.

    python -m bench.ingest [--documents 60] [--words 1200] [--workers 1,2,4]

Every run ingests the same generated corpus (bench/corpus.py, plus a damaged PDF and an empty file)
into its own embedded store, after a warm-up that pays the one-off costs (parser imports, model load):

- product with 1, 2, 4 parse workers: `IngestService.sync` (what `rag ingest`, uploads and the watcher
  use) with RAG_INGEST_WORKERS set; 1 worker is the previous one-file-at-a-time path;
- naive baseline: one file at a time, parsed in-process, one chunk per embed call and per upsert;
- parsing alone, in-process, with unstructured's spaCy narrative check on every paragraph (as
  unstructured ships) and with ours (only paragraphs that could be a title);
- text PDFs (the corpus's and the real-document dev set's) parsed by the previous PDF path (OCR off:
  no text-layer check) and by ours (the check that decides which pages need OCR): same blocks, no OCR
  call, and the ratio of the times;
- OCR alone: scanned pages (dev-set PDF pages rendered by pdftoppm into an image-only PDF) read by
  Tesseract, pages per second on one core, for each of --ocr-languages.

Each product run checks its result: the two bad files reported, every good file in the ledger once,
the store holding exactly the ledger's chunks (0 lost, 0 duplicated). It prints one JSON object:
per-stage seconds, the share of wall time the embedder sat idle, and ratios between the runs. The
embedder is RAG_EMBEDDER (default: the packaged all-MiniLM-L6-v2).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from unittest.mock import patch

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
    files: Sequence[Path], root: Path, embedder: Embedder, data_dir: Path, workers: int
) -> tuple[dict[str, Any], list[str]]:
    """IngestService.sync over ``root`` with ``workers`` parse processes (RAG_INGEST_WORKERS)."""
    from ingest.service import IngestService

    clock = Stopwatch()
    settings = _settings(data_dir, embedder.name).model_copy(update={"ingest_workers": workers})
    timed_embedder = TimedEmbedder(embedder, clock)
    store = TimedStore(open_store(settings, StoreSpec(embedder.name, embedder.dimension)), clock)
    kb = KnowledgeBase(settings, embedder=timed_embedder, store=store)
    try:
        with IngestService(kb) as service:
            _warm_parse_workers(service, files, workers)
        with timed_parsing(clock), clock.stage("wall"), IngestService(kb) as service:
            report = service.sync([root])
        with IngestService(kb) as service:
            check = _consistency(service, kb, files, report.failed)
    finally:
        kb.close()
    summary = _summary(clock, len(files), report.chunks_embedded, _bytes(files), timed_embedder.calls)
    return {"workers": workers, **summary, "check": check}, timed_embedder.texts


def _warm_parse_workers(service: Any, files: Sequence[Path], workers: int) -> None:
    """Start every worker of the parse pool and load each format's parser in it, before the clock
    runs: a server's workers are warm after their first files."""
    from concurrent.futures import ThreadPoolExecutor

    one_per_format = list({path.suffix: path for path in files}.values())
    with ThreadPoolExecutor(workers) as pool:
        for path in one_per_format:
            list(pool.map(service.parse, [path] * workers))


def _consistency(
    service: Any, kb: KnowledgeBase, files: Sequence[Path], failed: list[dict[str, str]]
) -> dict[str, Any]:
    """What landed: the bad files reported, each good file once, the store equal to the ledger."""
    records = service.ledger.documents()
    ingested = {Path(r.source).name for r in records}
    ledger_ids = [cid for r in records for cid in r.chunk_ids]
    store_count = kb.store.count()
    result = {
        "failed_files": sorted(Path(f["path"]).name for f in failed),
        "documents_missing": len({f.name for f in files} - ingested),
        "duplicate_chunks": len(ledger_ids) - len(set(ledger_ids)),
        "chunks_in_store_not_in_ledger": max(store_count - len(set(ledger_ids)), 0),
        "chunks_in_ledger_not_in_store": max(len(set(ledger_ids)) - store_count, 0),
    }
    result["ok"] = result["failed_files"] == sorted(BAD_FILES) and not any(
        result[k] for k in ("documents_missing", "duplicate_chunks", "chunks_in_store_not_in_ledger",
                            "chunks_in_ledger_not_in_store")
    )  # fmt: skip
    return result


BAD_FILES = {"damaged.pdf": b"%PDF-1.7\n" + bytes(range(256)) * 20, "empty.md": b""}


def parse_cost(files: Sequence[Path]) -> dict[str, Any]:
    """Parsing alone, in-process: unstructured's narrative check on every paragraph (as it ships)
    against ours, per format; the blocks must come out the same."""
    import unstructured.partition.text_type as text_type

    import ingest.parse as parse

    parse.configure_unstructured()
    ours = text_type.is_possible_narrative_text
    shipped = ours.__wrapped__  # type: ignore[attr-defined]
    seconds: dict[str, dict[str, float]] = {}
    same = True
    for label, check in (("unstructured_as_shipped", shipped), ("ours", ours)):
        for name in parse._CLASSIFYING_MODULES:
            module = sys.modules.get(name)
            if module is not None and hasattr(module, "is_possible_narrative_text"):
                setattr(module, "is_possible_narrative_text", check)  # noqa: B010
        per_format: dict[str, float] = {}
        blocks = []
        for path in files:
            start = time.perf_counter()
            blocks.append(parse.parse_file(path).blocks)
            per_format[path.suffix[1:]] = per_format.get(path.suffix[1:], 0.0) + time.perf_counter() - start
        seconds[label] = {k: round(v, 3) for k, v in sorted(per_format.items())} | {
            "total": round(sum(per_format.values()), 3)
        }
        if label == "unstructured_as_shipped":
            reference = blocks
        else:
            same = blocks == reference
    ratio = seconds["unstructured_as_shipped"]["total"] / seconds["ours"]["total"]
    return {"seconds": seconds, "same_blocks": same, "as_shipped_over_ours": round(ratio, 2)}


DEV_SET_PDFS = sorted((Path(__file__).resolve().parent.parent / "tests/devsets/en/docs").rglob("*.pdf"))


def text_layer_check(pdfs: Sequence[Path], rounds: int = 3) -> dict[str, Any]:
    """Text PDFs, in-process: the previous PDF path (OCR off, so no page is judged) against ours (every
    page's text layer judged; none needs OCR). Alternating rounds, the fastest of each kept: the same
    blocks, no OCR call, and the ratio of the times."""
    import ingest.ocr as ocr
    from ingest.parse import parse_file

    calls = 0
    real = ocr.ocr_page

    def counted(*args: Any, **kwargs: Any) -> list[str]:
        nonlocal calls
        calls += 1
        return real(*args, **kwargs)

    best = {"previous": float("inf"), "ours": float("inf")}
    same = True
    with patch.object(ocr, "ocr_page", counted):
        for _ in range(rounds):
            outputs = {}
            for label, options in (("previous", ocr.OFF), ("ours", ocr.DEFAULT)):
                start = time.perf_counter()
                outputs[label] = [parse_file(path, options) for path in pdfs]
                best[label] = min(best[label], time.perf_counter() - start)
            same = same and outputs["previous"] == outputs["ours"]
    return {
        "files": len(pdfs),
        "pages": sum(_pdf_pages(path) for path in pdfs),
        "seconds": {label: round(value, 3) for label, value in best.items()},
        "same_blocks": same,
        "ocr_calls": calls,
        "ours_over_previous": round(best["ours"] / best["previous"], 3),
    }


def _pdf_pages(path: Path) -> int:
    from pypdf import PdfReader

    return len(PdfReader(str(path)).pages)


def ocr_speed(folder: Path, pages: int, languages: str) -> dict[str, Any]:
    """Scanned pages read by OCR in this process, on one core (Tesseract runs one thread): the dev
    set's PDF pages rendered at 300 dpi into an image-only PDF (as scripts/devset/build_scanned.py
    does), then parsed. Reports pages per second of wall time and CPU seconds per page (ours and
    pdftoppm's and Tesseract's), and the share of the text layer's words OCR read."""
    import re
    import resource
    import subprocess

    from PIL import Image

    from ingest.ocr import DPI, OcrOptions
    from ingest.parse import parse_file

    folder.mkdir(parents=True, exist_ok=True)
    images: list[Image.Image] = []
    truth: list[str] = []
    for pdf in DEV_SET_PDFS:
        for number in range(1, _pdf_pages(pdf) + 1):
            if len(images) == pages:
                break
            stem = folder / f"page-{len(images)}"
            page = ["-f", str(number), "-l", str(number)]
            render = ["pdftoppm", "-r", "300", "-gray", *page, "-singlefile", str(pdf), str(stem)]
            subprocess.run(render, check=True)
            images.append(Image.open(stem.with_suffix(".pgm")))
            text = ["pdftotext", *page, str(pdf), "-"]
            truth.append(subprocess.run(text, capture_output=True, text=True, check=True).stdout)
    scan = folder / f"scan-{len(images)}.pdf"
    images[0].save(scan, "PDF", save_all=True, append_images=images[1:], resolution=300, quality=75)

    def cpu() -> float:
        own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime

    cpu_start, start = cpu(), time.perf_counter()
    parsed = parse_file(scan, OcrOptions(languages=languages))
    wall, cpu_s = time.perf_counter() - start, cpu() - cpu_start
    word = re.compile(r"[a-z0-9]+")
    expected = [w for page in truth for w in word.findall(page.lower())]
    read = {
        w for block in parsed.blocks for w in word.findall(" ".join((*block.section, block.text)).lower())
    }
    return {
        "pages": len(images),
        "dpi": DPI,
        "languages": languages,
        "ocr_pages": len({block.page for block in parsed.blocks if block.ocr}),
        "wall_s": round(wall, 2),
        "pages_per_s_one_core": round(len(images) / wall, 3),
        "cpu_s_per_page": round(cpu_s / len(images), 3),
        # Words of the text layer found among OCR's words (a set: a rough share, not an accuracy).
        "text_layer_words_read": round(sum(w in read for w in expected) / max(len(expected), 1), 4),
    }


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
    parser.add_argument("--workers", default="1,2,4", help="Parse worker counts to measure, comma-separated.")
    parser.add_argument("--skip-naive", action="store_true", help="Skip the naive baseline.")
    parser.add_argument("--ocr-pages", type=int, default=8, help="Scanned pages to OCR (0: skip OCR).")
    parser.add_argument(
        "--ocr-languages", default="eng", help="RAG_OCR_LANGUAGES values to time OCR with, comma-separated."
    )
    args = parser.parse_args(argv)
    workers = [int(n) for n in args.workers.split(",")]
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    embedder_name = os.environ.get("RAG_EMBEDDER", QUICKSTART_EMBEDDER)

    with tempfile.TemporaryDirectory(prefix="rag-bench-ingest-") as tmp:
        work = Path(tmp)
        progress(
            f"generating {args.documents} documents ({', '.join(FORMATS)}) and {len(BAD_FILES)} bad files"
        )
        files = generate(work / "corpus", args.documents, args.words)
        for name, content in BAD_FILES.items():
            (work / "corpus" / name).write_bytes(content)
        embedder = make_embedder(_settings(work / "unused", embedder_name))
        warm = warm_up(files, embedder)
        runs: dict[str, dict[str, Any]] = {}
        texts: list[str] = []
        for n in workers:
            progress(f"product pipeline (IngestService.sync), {n} parse worker(s)")
            runs[f"workers_{n}"], texts = run_product(
                files, work / "corpus", embedder, work / f"product-{n}", n
            )
        naive = None
        if not args.skip_naive:
            progress("naive baseline (one chunk per embed call and upsert)")
            naive = run_naive(files, embedder, work / "naive")
        progress("embedding-only floor")
        floor = embedding_only(texts, embedder)
        progress("parsing alone: unstructured's narrative check as shipped, and ours")
        parsing = parse_cost(files)
        progress("text PDFs: the previous PDF path and ours with the text-layer check")
        text_layer = text_layer_check([f for f in files if f.suffix == ".pdf"] + DEV_SET_PDFS)
        ocr_runs = {}
        for languages in args.ocr_languages.split(",") if args.ocr_pages else []:
            progress(f"OCR: {args.ocr_pages} scanned pages, {languages}")
            ocr_runs[languages] = ocr_speed(work / "scans", args.ocr_pages, languages)
    first, machine_cores = runs[f"workers_{workers[0]}"], os.cpu_count() or 1
    at_cores = runs.get(f"workers_{machine_cores}", runs[f"workers_{workers[-1]}"])
    result: dict[str, Any] = {
        "benchmark": "ingest",
        "config": {
            "documents": args.documents,
            "bad_files": sorted(BAD_FILES),
            "words_per_document": args.words,
            "embedder": embedder_name,
            "load_average": os.getloadavg(),
        },
        "warm_up_s": round(warm, 2),
        "product": runs,
        "naive_baseline": naive,
        "embedding_only_s": round(floor, 3),
        "parsing": parsing,
        "pdf_text_layer_check": text_layer,
        "ocr": ocr_runs,
        "peak_rss_mib": peak_rss_mib(),
        "ratios": {
            # > 1: that many times faster than the first worker count (1: the previous path).
            f"wall_{first['workers']}_worker_over_wall_{n}": round(first["wall_s"] / run["wall_s"], 3)
            for n, run in ((r["workers"], r) for r in runs.values())
        }
        | {
            "naive_wall_over_product_wall_at_cores": round(naive["wall_s"] / at_cores["wall_s"], 2)
            if naive
            else None,
            # How much longer the whole ingest takes than embedding the same chunks alone.
            "product_wall_at_cores_over_embedding_only": round(at_cores["wall_s"] / floor, 3),
            # > 1: text PDFs parse slower with the text-layer check than without.
            "text_pdf_parse_ours_over_previous": text_layer["ours_over_previous"],
        },
        "all_consistent": all(run["check"]["ok"] for run in runs.values()),
    }
    emit(result)
    return result


if __name__ == "__main__":
    main()
