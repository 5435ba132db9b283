"""Search under concurrent load: 1, 4 and 16 clients posting `/v1/search` to a real `rag serve`,
for this checkout and, as the baseline in the same run, for an earlier commit (`--before REF`).

    python -m bench.concurrency --search [--before REF] [--duration 20] [--clients 1,4,16]

Both servers read the same data dir (sample_docs ingested once by this checkout's `rag ingest`), with
the same embedder and no LLM (`RAG_LLM=none`: search does not use it). The earlier commit's code runs
from a temporary `git worktree`, with this venv. Every query text is new (a counter is appended), so
the query cache never answers: what is measured is the embedding and retrieval path. Servers take turns
per level (before, after, before, after for 1, then 4, then 16 clients) so machine load hits both
alike; each level records the load average.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx

from bench.common import emit, percentiles, progress

ROOT = Path(__file__).resolve().parent.parent


@contextlib.contextmanager
def checkout(ref: str | None) -> Iterator[Path]:
    """This checkout, or ``ref`` in a temporary worktree (removed afterwards)."""
    if ref is None:
        yield ROOT
        return
    with tempfile.TemporaryDirectory(prefix="bench-before-") as tmp:
        where = Path(tmp) / "tree"
        subprocess.run(["git", "worktree", "add", "--detach", str(where), ref], cwd=ROOT, check=True,
                       capture_output=True)  # fmt: skip
        try:
            yield where
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(where)], cwd=ROOT, check=False,
                           capture_output=True)  # fmt: skip


def hammer(url: str, clients: int, duration_s: float, questions: Sequence[str]) -> dict[str, Any]:
    """``clients`` threads posting searches back to back for ``duration_s``; latencies client-side."""
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    counter = itertools.count()
    deadline = time.monotonic() + duration_s

    def client() -> None:
        with httpx.Client(base_url=url, timeout=60) as http:
            while time.monotonic() < deadline:
                n = next(counter)
                query = f"{questions[n % len(questions)]} ({n})"
                started = time.perf_counter()
                try:
                    response = http.post("/v1/search", json={"query": query, "top_k": 5})
                    ok = response.status_code == 200 and bool(response.json()["hits"])
                    problem = None if ok else f"{response.status_code}: {response.text[:200]}"
                except httpx.HTTPError as exc:
                    problem = repr(exc)
                elapsed = (time.perf_counter() - started) * 1000
                with lock:
                    latencies.append(elapsed)
                    if problem:
                        errors.append(problem)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    return {
        "clients": clients,
        "latency": percentiles(latencies),
        "searches_per_s": round(len(latencies) / wall, 1),
        "errors": len(errors),
        "error_samples": errors[:3],
        "load_average_1m": round(os.getloadavg()[0], 2),
    }


def run_search_load(
    before: str | None,
    clients: Sequence[int],
    duration_s: float,
    embedder: str,
    before_env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """``before_env``: extra environment for the baseline server (with ``before`` = HEAD, the same
    code under another setting, e.g. OMP_WAIT_POLICY=ACTIVE)."""
    from bench.concurrency import ingest, load_questions, rag_serve

    questions = load_questions(ROOT / "sample_docs" / "questions.jsonl", include_unanswerable=False)
    with tempfile.TemporaryDirectory(prefix="bench-search-") as tmp, checkout(before) as old_tree:
        work = Path(tmp)
        env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")} | {
            "HF_HUB_OFFLINE": "1", "DO_NOT_TRACK": "1", "RAG_DATA_DIR": str(work / "data"),
            "RAG_EMBEDDER": embedder, "RAG_AUTH_DISABLED": "true", "RAG_LLM": "none",
        }  # fmt: skip
        ingested = ingest(ROOT / "sample_docs", env | {"PYTHONPATH": str(ROOT)}, work)
        trees = {"after": ROOT} if before is None else {"before": old_tree, "after": ROOT}
        results: dict[str, list[dict[str, Any]]] = {label: [] for label in trees}
        for level in clients:
            for label, tree in list(trees.items()) * 2:  # each server twice per level, taking turns
                progress(f"{label}: {level} client(s), {duration_s / 2:.0f} s")
                extra = (before_env or {}) if label == "before" else {}
                with rag_serve(env | {"PYTHONPATH": str(tree)} | extra, work) as server:
                    hammer(server.url, 1, 2, questions)  # warm-up: model loaded, first batch done
                    results[label].append(hammer(server.url, level, duration_s / 2, questions))
    levels = {label: _merge_halves(runs) for label, runs in results.items()}
    result: dict[str, Any] = {
        "benchmark": "search_load",
        "config": {
            "before": before,
            "clients": list(clients),
            "duration_s_per_level": duration_s,
            "embedder": embedder,
            "corpus": "sample_docs",
            "ingest": ingested,
        },
        "levels": levels,
    }
    if before is not None:
        result["ratios_before_over_after"] = {
            f"p95_{b['clients']}_clients": round(b["latency"]["p95_ms"] / a["latency"]["p95_ms"], 2)
            for b, a in zip(levels["before"], levels["after"], strict=True)
        } | {
            f"throughput_after_over_before_{b['clients']}_clients": round(
                a["searches_per_s"] / b["searches_per_s"], 2
            )
            for b, a in zip(levels["before"], levels["after"], strict=True)
        }
    return result


def _merge_halves(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Two half-duration runs per level: report the worse p95 and the mean throughput of the pair."""
    merged = []
    for first, second in zip(runs[::2], runs[1::2], strict=True):
        worse = first if first["latency"]["p95_ms"] >= second["latency"]["p95_ms"] else second
        merged.append(
            worse
            | {
                "searches_per_s": round((first["searches_per_s"] + second["searches_per_s"]) / 2, 1),
                "errors": first["errors"] + second["errors"],
                "p95_ms_of_both_halves": [first["latency"]["p95_ms"], second["latency"]["p95_ms"]],
            }
        )
    return merged


def main(argv: Sequence[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m bench.concurrency --search", description=__doc__)
    parser.add_argument("--search", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--before", default=None, help="A git ref to measure as the baseline.")
    parser.add_argument(
        "--before-env", action="append", default=[], metavar="NAME=VALUE",
        help="Environment of the baseline server only (repeatable); with --before HEAD: a setting's effect.",
    )  # fmt: skip
    parser.add_argument("--clients", default="1,4,16", help="Client counts (1,4,16).")
    parser.add_argument("--duration", type=float, default=20.0, help="Seconds per level and server (20).")
    parser.add_argument("--embedder", default="sentence-transformers:all-MiniLM-L6-v2", help="RAG_EMBEDDER.")
    args = parser.parse_args(argv)
    clients = [int(n) for n in args.clients.split(",")]
    before_env = dict(item.split("=", 1) for item in args.before_env)
    result = run_search_load(args.before, clients, args.duration, args.embedder, before_env)
    emit(result)
    errors = sum(level["errors"] for runs in result["levels"].values() for level in runs)
    return 0 if errors == 0 else 1
