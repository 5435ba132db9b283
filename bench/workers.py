"""Ingest with `rag worker` processes: wall time for a folder with N workers against 1 worker, same run.

    python -m bench.workers [--files 300] [--words 300] [--workers 1,3] [--database-url URL]

For each worker count (the first one is the baseline): a fresh PostgreSQL database (a throw-away cluster
from tests/support/postgres.py unless --database-url names a server to make databases on), N `rag worker`
processes with a data dir each, started and warm (model loaded, parse process up) before the clock
starts; then `rag scan` queues the generated folder (bench/corpus.py: every supported format) and the
clock stops when the ledger holds every file and no job is left. Each run checks itself: every file in
the ledger once, no failure, each worker's store holding the chunks of the files it ingested.

With ``--moves``, each run then moves its folder twice while the workers run, as the watcher queues a
folder move: once as move jobs (the new path's job reuses the stored vectors, then queues the old
path), once as two path jobs per file (the old path's removal and the new path's ingest, re-embedded:
how a move was queued before), in alternating order between rounds; the clock runs from the rename to
the last job, and the ledger must then hold every file at its new path. Each worker has a store of
its own here (no shared store server): a move job reuses vectors only if its worker ingested the file,
so with several workers the move is measured for what it is only where they share a Qdrant server.

The embedder is RAG_EMBEDDER (default: the packaged all-MiniLM-L6-v2), loaded by every worker. Prints
one JSON object: per run the wall time, files per second, jobs per worker, and the speed-up over the
baseline. On a machine with fewer cores than workers the workers share the cores: the speed-up is
bounded by the cores, which the JSON records.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import psycopg
from pydantic import SecretStr

from bench.common import emit, progress
from bench.corpus import generate
from ingest.ledger import documents_under, open_ledger
from ingest.queue import IngestQueue, QueueSettings
from ingest.service import source_of
from rag.config import Settings
from rag.types import DocumentRecord

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_EMBEDDER = "sentence-transformers:all-MiniLM-L6-v2"


@dataclass(frozen=True)
class Options:
    files: int
    words: int
    workers: list[int]
    embedder: str
    database_url: str | None
    timeout_s: float
    rounds: int
    moves: bool = False


def parse_args(argv: Sequence[str] | None) -> Options:
    parser = argparse.ArgumentParser(prog="python -m bench.workers", description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=300, help="Files in the generated folder.")
    parser.add_argument("--words", type=int, default=300, help="Words per file.")
    parser.add_argument("--workers", default="1,3", help="Worker counts to run; the first is the baseline.")
    parser.add_argument(
        "--database-url",
        default=None,
        help="A PostgreSQL server URL whose user may create databases (default: a throw-away cluster).",
    )
    parser.add_argument("--timeout-s", type=float, default=3600, help="Give up on a run after this long.")
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="Run every worker count this many times, interleaved; the fastest run of each counts (other "
        "load on the machine only ever slows a run down).",
    )
    parser.add_argument(
        "--moves",
        action="store_true",
        help="After each ingest, time moving the folder as move jobs against two path jobs per file.",
    )
    args = parser.parse_args(argv)
    return Options(
        files=args.files,
        words=args.words,
        workers=[int(n) for n in args.workers.split(",")],
        embedder=os.environ.get("RAG_EMBEDDER", DEFAULT_EMBEDDER),
        database_url=args.database_url,
        timeout_s=args.timeout_s,
        rounds=args.rounds,
        moves=args.moves,
    )


@contextmanager
def database_server(url: str | None) -> Iterator[Any]:
    """Something with ``create_database() -> url``: the given server, or a throw-away cluster."""
    if url is not None:
        yield _Server(url)
        return
    tests = str(ROOT / "tests")
    if tests not in sys.path:
        sys.path.append(tests)  # appended: tests/rag must never shadow the real `rag`
    from support.postgres import running_postgres

    with running_postgres() as server:
        yield server


class _Server:
    def __init__(self, url: str) -> None:
        self._url = url
        self._made = 0

    def create_database(self) -> str:
        self._made += 1
        name = f"bench_workers_{os.getpid()}_{self._made}"
        with psycopg.connect(self._url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self._url.rsplit("/", 1)[0] + f"/{name}"


def run(
    options: Options, docs: Path, workdir: Path, url: str, count: int, moves_first: bool = True
) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env.setdefault("HF_HUB_OFFLINE", "1")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    env |= {"RAG_DATABASE_URL": url, "RAG_EMBEDDER": options.embedder}
    if "RAG_OLLAMA_HOST" in os.environ:  # for an ollama: embedder
        env["RAG_OLLAMA_HOST"] = os.environ["RAG_OLLAMA_HOST"]
    settings = Settings(database_url=SecretStr(url), _env_file=None)  # type: ignore[call-arg]
    queue = IngestQueue(QueueSettings(url))
    queue.prepare()
    logs = [workdir / f"worker{n}.log" for n in range(count)]
    processes: list[subprocess.Popen[bytes]] = []
    folder = workdir / "docs"  # this run's own copy: --moves renames it
    shutil.copytree(docs, folder)
    moves: dict[str, Any] = {}
    try:
        for n, log in enumerate(logs):
            with log.open("wb") as out:
                processes.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "api.cli", "worker"],
                        env=env | {"RAG_DATA_DIR": str(workdir / f"worker{n}")},
                        stdout=out,
                        stderr=subprocess.STDOUT,
                    )
                )
        _wait(lambda: _registered(url) == count, processes, logs, options.timeout_s)
        progress(f"  {count} workers ready; queueing {options.files} files")
        started = time.perf_counter()
        scan = subprocess.run(
            [sys.executable, "-m", "api.cli", "scan", str(folder), "--json"],
            env=env | {"RAG_DATA_DIR": str(workdir / "scanner")},
            capture_output=True,
            text=True,
            check=True,
        )
        _wait(lambda: queue.files_in_progress() == 0, processes, logs, options.timeout_s)
        wall = time.perf_counter() - started
        ingest_lines = [len(log.read_text().splitlines()) for log in logs]  # the moves log more lines
        if options.moves:
            wait = partial(_wait, processes=processes, logs=logs, timeout_s=options.timeout_s)
            moves = _time_moves(queue, folder, settings, options.files, wait, moves_first)
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            process.wait(120)
    ledger = open_ledger(settings)
    try:
        documents, failures = ledger.count(), ledger.failures()
    finally:
        ledger.close()
    jobs = [
        sum(line.strip().startswith("added") for line in log.read_text().splitlines()[:lines])
        for log, lines in zip(logs, ingest_lines, strict=True)
    ]
    return {
        "workers": count,
        "files": options.files,
        "wall_s": round(wall, 2),
        "files_per_s": round(options.files / wall, 2),
        "files_per_worker": jobs,
        "scan": json.loads(scan.stdout),
        "check": {
            "documents": documents,
            "failed": [f.source for f in failures],
            "ok": documents == options.files and not failures and sum(jobs) == options.files,
        },
    } | ({"moves": moves} if options.moves else {})


def _time_moves(
    queue: IngestQueue,
    folder: Path,
    settings: Settings,
    files: int,
    wait: Callable[[Callable[[], bool]], None],
    moves_first: bool,
) -> dict[str, Any]:
    """Move the ingested folder twice, once each way of queueing a move; seconds per way."""
    ways = ["move_jobs", "two_path_jobs"] if moves_first else ["two_path_jobs", "move_jobs"]
    seconds: dict[str, float] = {}
    with queue:
        for n, way in enumerate(ways):
            moved = folder.with_name(f"docs-moved-{n}")
            old_root = source_of(folder)
            old = [r.source for r in _documents(settings)]
            started = time.perf_counter()
            folder.rename(moved)
            for source in old:
                new = source_of(moved / Path(source).relative_to(old_root))
                if way == "move_jobs":
                    queue.enqueue_move(new, source)
                else:
                    queue.enqueue_path(new)  # as the watcher queued a move before: new path, then old
                    queue.enqueue_path(source)
            wait(lambda: queue.files_in_progress() == 0)
            seconds[way] = round(time.perf_counter() - started, 2)
            now = [r.source for r in _documents(settings)]
            if len(now) != files or not all(s.startswith(source_of(moved) + os.sep) for s in now):
                raise SystemExit(
                    f"after the move ({way}) the ledger holds {len(now)} documents, not all moved"
                )
            folder = moved
    return seconds | {
        "order": ways,
        "speedup_over_two_path_jobs": round(seconds["two_path_jobs"] / seconds["move_jobs"], 2),
    }


def _documents(settings: Settings) -> list[DocumentRecord]:
    ledger = open_ledger(settings)
    try:
        return list(documents_under(ledger))
    finally:
        ledger.close()


def _registered(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM procrastinate_workers").fetchone()
    return int(row[0]) if row else 0


def _wait(done: Any, processes: list[subprocess.Popen[bytes]], logs: list[Path], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not done():
        for process, log in zip(processes, logs, strict=True):
            if process.poll() is not None:
                raise SystemExit(f"a worker exited ({process.returncode}): {log.read_text()[-2000:]}")
        if time.monotonic() > deadline:
            raise SystemExit(f"gave up after {timeout_s:.0f} s")
        time.sleep(0.2)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    options = parse_args(argv)
    with (
        tempfile.TemporaryDirectory(prefix="rag-bench-workers-") as tmp,
        database_server(options.database_url) as server,
    ):
        docs = Path(tmp) / "docs"
        generate(docs, options.files, words_per_document=options.words)
        tried: dict[int, list[dict[str, Any]]] = {count: [] for count in options.workers}
        for round_ in range(options.rounds):
            for count in options.workers:
                progress(f"round {round_ + 1}: {count} worker(s), {options.files} files ({options.embedder})")
                workdir = Path(tmp) / f"run-{round_}-{count}"
                workdir.mkdir()
                url = server.create_database()
                tried[count].append(run(options, docs, workdir, url, count, moves_first=round_ % 2 == 0))
                progress(f"  {tried[count][-1]['wall_s']} s, {tried[count][-1]['files_per_s']} files/s")
    runs = [
        min(tried[count], key=lambda r: float(r["wall_s"]))
        | {"walls_s": [r["wall_s"] for r in tried[count]]}
        | ({"moves_by_round": [r["moves"] for r in tried[count]]} if options.moves else {})
        for count in options.workers
    ]
    baseline = runs[0]
    result: dict[str, Any] = {
        "benchmark": "workers",
        "embedder": options.embedder,
        "load_average_1m": round(os.getloadavg()[0], 2),
        "runs": {f"workers_{r['workers']}": r for r in runs},
        "speedup_over_baseline": {
            f"workers_{r['workers']}": round(baseline["wall_s"] / r["wall_s"], 2) for r in runs[1:]
        },
        "all_consistent": all(r["check"]["ok"] for results in tried.values() for r in results),
    }
    emit(result)
    return result


if __name__ == "__main__":
    main()
