"""How long a user waits for `rag search`: with a `rag serve` running on the data dir (the command
asks it over HTTP) and, as the baseline in the same run, without one (the command loads the model).

    python -m bench.cli_latency [--runs 5]

Wall time of the whole command, as a shell would see it: interpreter start, imports, the search, the
JSON printed. sample_docs is ingested once into a temporary data dir; no LLM is needed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.common import emit, progress

ROOT = Path(__file__).resolve().parent.parent
QUERY = "Up to what amount can my line manager approve an expense claim?"


def timed_search(env: dict[str, str], cwd: Path) -> float:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "api.cli", "search", QUERY, "--json"],
        env=env, cwd=cwd, capture_output=True, text=True, check=False,
    )  # fmt: skip
    seconds = time.perf_counter() - started
    if done.returncode != 0 or '"hits"' not in done.stdout:
        raise SystemExit(f"rag search failed ({done.returncode}): {done.stderr[-2000:]}")
    return seconds


def summary(samples: list[float]) -> dict[str, Any]:
    return {
        "runs_s": [round(s, 2) for s in samples],
        "median_s": round(statistics.median(samples), 2),
        "max_s": round(max(samples), 2),
    }


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    from bench.concurrency import ingest, rag_serve

    parser = argparse.ArgumentParser(prog="python -m bench.cli_latency", description=__doc__)
    parser.add_argument("--runs", type=int, default=5, help="Commands timed per case (5).")
    parser.add_argument("--embedder", default="sentence-transformers:all-MiniLM-L6-v2", help="RAG_EMBEDDER.")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-cli-") as tmp:
        work = Path(tmp)
        env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")} | {
            "HF_HUB_OFFLINE": "1", "DO_NOT_TRACK": "1", "PYTHONPATH": str(ROOT),
            "RAG_DATA_DIR": str(work / "data"), "RAG_EMBEDDER": args.embedder,
            "RAG_AUTH_DISABLED": "true", "RAG_LLM": "none",
        }  # fmt: skip
        ingest(ROOT / "sample_docs", env, work)
        progress("rag search with a server running")
        with rag_serve(env, work):
            served = [timed_search(env, work) for _ in range(args.runs)]
        progress("rag search without a server (the command loads the model)")
        alone = [timed_search(env, work) for _ in range(args.runs)]
    result: dict[str, Any] = {
        "benchmark": "cli_latency",
        "config": {
            "runs": args.runs,
            "embedder": args.embedder,
            "query": QUERY,
            "load_average": os.getloadavg(),
        },
        "with_server": summary(served),
        "without_server": summary(alone),
        "ratio_without_over_with": round(statistics.median(alone) / statistics.median(served), 1),
        "under_2_s_with_server": max(served) < 2.0,
    }
    emit(result)
    return result


if __name__ == "__main__":
    main()
