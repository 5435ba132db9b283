"""`rag worker` processes against a real PostgreSQL (ledger and queue): three workers ingest 300 files
while two of them are SIGKILLed in the middle of a file; afterwards every file is ingested exactly once.

There is no vector store server here to share (no Qdrant binary, no Docker), so each worker writes to
its own embedded store in its own data dir, all with the same RAG_DATABASE_URL, and the test checks the
union of the stores against the one ledger. "Exactly once" then means, per file:

* the ledger holds exactly one document for it (its content hash matching the file) and no failure;
* one store holds all of the chunks the ledger lists for it, and no store holds a chunk of it that the
  ledger does not list (nothing stale, nothing missing);
* no second store holds its chunks, with one expected exception: the file a worker was in the middle of
  when it was killed. That attempt may have written some or all of its chunks to the killed worker's
  store before dying, and the job was then redone by another worker (stalled, retried) into that one's
  store. With a shared store (the Docker variant below, and production) the redo overwrites the same
  deterministic chunk ids and nothing is left over; with per-worker stores the killed attempt's copy
  stays in a store no process will open again (a replacement starts with a data dir of its own). The
  test ignores exactly those copies: only documents in flight on a killed worker, only in that worker's
  store, and only chunk ids the ledger lists for them (so never stale content).

The embedder is the Ollama client against the in-test Ollama protocol server (hashing vectors), shared
by the workers: fast, so the kills land in parsing, embedding and writing alike. The other tests: retries
while the embedder is down, the periodic scan, and the hostile corpus through a worker.
"""

from __future__ import annotations

import hashlib
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
from pydantic import SecretStr
from support.hostile import build, misplaced
from support.ollama_server import OllamaProtocolServer, hashing_embed

from ingest.ledger import documents_under, open_ledger
from ingest.queue import PATH_TASK, IngestQueue, QueueSettings
from rag.config import Settings
from rag.labels import printable
from rag.store import open_store
from rag.types import DocumentRecord

ROOT = Path(__file__).resolve().parents[2]
FILES = 300
pytestmark = pytest.mark.slow  # four `rag worker` processes and 300 files: about a minute


def write_corpus(root: Path, files: int) -> None:
    root.mkdir()
    for i in range(files):
        paragraphs = [
            f"Note {i}, part {j}: team {i % 13} reviews budget line {i}-{j} of {i * 10 + j} euros "
            f"with owner {i % 17} in room {j * 7 + i}."
            for j in range(12 + i % 7)
        ]
        (root / f"note{i:03d}.txt").write_text("\n\n".join(paragraphs), encoding="utf-8")


@dataclass
class Worker:
    process: subprocess.Popen[bytes]
    data_dir: Path
    log: Path
    worker_id: int | None  # its id in procrastinate's table of workers, once registered
    killed_in: str | None = None  # the file it was in the middle of when SIGKILLed


@dataclass
class Fleet:
    """`rag worker` processes, each with its own data dir, and their ids in procrastinate's table."""

    tmp: Path
    env: dict[str, str]
    settings: Settings  # the ledger's (RAG_DATABASE_URL)
    workers: list[Worker] = field(default_factory=list)
    _known: set[int] = field(default_factory=set)  # worker ids before the last start

    @property
    def url(self) -> str:
        assert self.settings.database_url is not None
        return self.settings.database_url.get_secret_value()

    def start(self, wait: bool = True) -> Worker:
        """Start one worker; ``wait``: until it is registered in the queue (else its id is found later:
        workers are started one at a time, so the one new id is its own)."""
        n = len(self.workers)
        data, log = self.tmp / f"worker{n}", self.tmp / f"worker{n}.log"
        self._known = self._worker_ids()
        with log.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "api.cli", "worker"],
                env=self.env | {"RAG_DATA_DIR": str(data)},
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        worker = Worker(process, data, log, None)
        self.workers.append(worker)
        deadline = time.monotonic() + 120
        while wait and not self._registered(worker):
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, f"worker {n} did not register: {log.read_text()}"
            time.sleep(0.05)
        return worker

    def _registered(self, worker: Worker) -> bool:
        if worker.worker_id is None and (new := self._worker_ids() - self._known):
            worker.worker_id = new.pop()
        return worker.worker_id is not None

    def kill_one_mid_file(self, rng: random.Random) -> Worker:
        """SIGSTOP a random live worker; if it holds a file's job, SIGKILL it, else let it go and retry."""
        for _ in range(1000):
            live = [w for w in self.workers if w.process.poll() is None and self._registered(w)]
            worker = rng.choice(live)
            os.kill(worker.process.pid, signal.SIGSTOP)
            with psycopg.connect(self.url) as conn:
                row = conn.execute(
                    "SELECT args->>'source' FROM procrastinate_jobs "
                    "WHERE status = 'doing' AND task_name = %s AND worker_id = %s",
                    (PATH_TASK, worker.worker_id),
                ).fetchone()
            # Frozen in a file whose result is not in the ledger yet: the redo has real work to do.
            if row is not None and not committed(self.settings, str(row[0])):
                os.kill(worker.process.pid, signal.SIGKILL)
                worker.process.wait(30)
                worker.killed_in = str(row[0])
                return worker
            os.kill(worker.process.pid, signal.SIGCONT)
            time.sleep(rng.uniform(0.0, 0.05))
        raise AssertionError("no worker was ever caught in the middle of a file")

    def stop(self) -> None:
        """SIGTERM: each live worker finishes the file in hand and exits 0."""
        live = [w for w in self.workers if w.process.poll() is None]
        for worker in live:
            worker.process.send_signal(signal.SIGTERM)
        for worker in live:
            assert worker.process.wait(60) == 0, worker.log.read_text()
            assert "stopped after" in worker.log.read_text()

    def _worker_ids(self) -> set[int]:
        with psycopg.connect(self.url) as conn:
            return {int(r[0]) for r in conn.execute("SELECT id FROM procrastinate_workers").fetchall()}


def committed(settings: Settings, source: str) -> bool:
    ledger = open_ledger(settings)
    try:
        return ledger.by_source(source) is not None
    finally:
        ledger.close()


def ledger_records(settings: Settings) -> list[DocumentRecord]:
    ledger = open_ledger(settings)
    try:
        return list(documents_under(ledger))
    finally:
        ledger.close()


def path_jobs_left(url: str) -> int:
    return IngestQueue(QueueSettings(url)).files_in_progress()


def rag_scan(env: dict[str, str], folder: Path, data_dir: Path) -> str:
    """`rag scan FOLDER` as a user runs it, in a data dir of its own; what it printed."""
    done = subprocess.run(
        [sys.executable, "-m", "api.cli", "scan", str(folder)],
        env=env | {"RAG_DATA_DIR": str(data_dir)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def wait_for(condition: Callable[[], bool], what: str, timeout_s: float = 600) -> None:
    """A guard against hanging, not a timing assertion: the work takes about a minute."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.1)


@pytest.fixture
def worker_env(postgres_url: str) -> Iterator[dict[str, str]]:
    with OllamaProtocolServer(models=["nomic-embed-text:latest"]) as ollama:
        yield {k: v for k, v in os.environ.items() if not k.startswith("RAG_")} | {
            "RAG_DATABASE_URL": postgres_url,
            "RAG_EMBEDDER": "ollama:nomic-embed-text",
            "RAG_OLLAMA_HOST": ollama.url,
            "RAG_WORKER_STALLED_AFTER_S": "3",  # a dead worker's job is back in the queue within ~13 s
            "PYTHONPATH": str(ROOT),
        }


def ingest_with_two_kills(tmp_path: Path, env: dict[str, str]) -> tuple[Fleet, list[DocumentRecord]]:
    """`rag scan` 300 files, 3 workers, SIGKILL one in the middle of a file after a fifth of the files
    (and start a replacement) and another after half (not replaced); wait until the queue is empty, stop
    the rest with SIGTERM. Checks the ledger and the killed files' jobs; returns the ledger's documents."""
    docs = tmp_path / "docs"
    write_corpus(docs, FILES)
    url = SecretStr(env["RAG_DATABASE_URL"])
    settings = Settings(database_url=url, _env_file=None)  # type: ignore[call-arg]
    IngestQueue(QueueSettings(env["RAG_DATABASE_URL"])).prepare()  # the workers would; the test looks first
    fleet = Fleet(tmp_path, env, settings)
    rng = random.Random(17)
    killed: list[Worker] = []
    try:
        for _ in range(3):  # started (and registered) one at a time, so each one's id in the queue is known
            fleet.start()
        scanned = rag_scan(env, docs, tmp_path / "scanner")
        assert scanned.startswith(f"queued {FILES} (new {FILES},"), scanned
        for share in (0.2, 0.5):
            wait_for(lambda share=share: len(ledger_records(settings)) >= FILES * share, "progress")  # type: ignore[misc]
            killed.append(fleet.kill_one_mid_file(rng))
            if len(killed) == 1:
                fleet.start(wait=False)  # a replacement, with a data dir of its own
        wait_for(lambda: path_jobs_left(fleet.url) == 0, "the queue to empty")
    finally:
        fleet.stop()
    print(f"\nkilled in the middle of: {[Path(w.killed_in or '').name for w in killed]}")

    # The ledger: one document per file, with its content, and no failure.
    records = ledger_records(settings)
    files = {str(p.resolve()): p for p in docs.iterdir()}
    assert sorted(r.source for r in records) == sorted(files)
    assert all(r.sha256 == hashlib.sha256(files[r.source].read_bytes()).hexdigest() for r in records)
    ledger = open_ledger(settings)
    try:
        assert ledger.failures() == []
    finally:
        ledger.close()
    # The files the killed workers were in: found stalled, queued again, done by another worker.
    with psycopg.connect(fleet.url) as conn:
        for worker in killed:
            rows = conn.execute(
                "SELECT status::text, attempts FROM procrastinate_jobs WHERE task_name = %s "
                "AND args->>'source' = %s",
                (PATH_TASK, worker.killed_in),
            ).fetchall()
            assert rows == [("succeeded", 2)], (worker.killed_in, rows)  # the killed attempt, the redo
    logs = "".join(w.log.read_text() for w in fleet.workers)
    assert all(f"stalled  {w.killed_in}" in logs for w in killed)
    return fleet, records


def test_three_workers_two_sigkills_every_file_ingested_exactly_once(
    tmp_path: Path, worker_env: dict[str, str]
) -> None:
    fleet, records = ingest_with_two_kills(tmp_path, worker_env)
    killed = [w for w in fleet.workers if w.killed_in is not None]
    in_flight = {w.killed_in: w.data_dir for w in killed}
    by_id = {r.doc_id: r for r in records}
    complete: dict[str, list[Path]] = {r.doc_id: [] for r in records}  # stores holding all its chunks
    leftovers = 0
    for worker in fleet.workers:
        store = open_store(fleet.settings.model_copy(update={"data_dir": worker.data_dir}), None)
        try:
            for doc_id, count in store.chunk_counts().items():
                record = by_id.get(doc_id)
                assert record is not None, (
                    f"{worker.data_dir.name} holds chunks of a document not in the ledger"
                )
                listed = len(store.get(record.chunk_ids))
                assert listed == count, (
                    f"{worker.data_dir.name} holds chunks of {record.source} not in the ledger"
                )
                if listed == len(record.chunk_ids):
                    complete[doc_id].append(worker.data_dir)
                if in_flight.get(record.source) == worker.data_dir:
                    leftovers += 1  # the attempt it was killed in (all or part of it), or its own result
                else:
                    assert listed == len(record.chunk_ids), (
                        f"part of {record.source} in {worker.data_dir.name}"
                    )
        finally:
            store.close()
    missing = [by_id[d].source for d, stores in complete.items() if not stores]
    duplicated = [
        by_id[d].source
        for d, stores in complete.items()
        if len([s for s in stores if in_flight.get(by_id[d].source) != s]) > 1
    ]
    print(f"documents {len(records)}, missing {len(missing)}, duplicated {len(duplicated)}, "
          f"copies in killed workers' stores of the file each died in: {leftovers}")  # fmt: skip
    assert missing == []
    assert duplicated == []
    assert leftovers <= len(killed)


def _docker_skip_reason() -> str | None:
    try:
        import docker

        docker.from_env().ping()
    except Exception as exc:
        return (
            f"no Docker engine reachable ({exc.__class__.__name__}): the workers sharing a Qdrant server "
            "(testcontainers) run where one is; here each worker has its own embedded store (test above)"
        )
    return None


@pytest.mark.docker
def test_workers_sharing_a_qdrant_server_store_every_chunk_exactly_once(
    tmp_path: Path, worker_env: dict[str, str]
) -> None:
    """The same run with one Qdrant server shared by the workers: the store itself equals the ledger,
    chunk for chunk, with nothing left over from the killed attempts (the redo wrote the same ids)."""
    reason = _docker_skip_reason()
    if reason:
        pytest.skip(reason)
    from testcontainers.qdrant import QdrantContainer

    with QdrantContainer("qdrant/qdrant:v1.20.0") as qdrant:
        url = f"http://{qdrant.get_container_host_ip()}:{qdrant.exposed_rest_port}"
        fleet, records = ingest_with_two_kills(tmp_path, worker_env | {"RAG_QDRANT_URL": url})
        store = open_store(fleet.settings.model_copy(update={"qdrant_url": url}), None)
        try:
            assert store.chunk_counts() == {r.doc_id: r.chunks for r in records}
            ids = [cid for r in records for cid in r.chunk_ids]
            assert len(ids) == len(set(ids)) == store.count()
        finally:
            store.close()


def test_a_worker_retries_while_the_embedder_is_down_and_fails_an_unreadable_file_once(
    tmp_path: Path, postgres_url: str
) -> None:
    down = threading.Event()

    def embed(texts: list[str]) -> list[list[float]]:
        if down.is_set():
            raise RuntimeError("the model runner stopped")  # Ollama answers 500
        return hashing_embed(texts)

    docs = tmp_path / "docs"
    docs.mkdir()
    good, bad = docs / "minutes.txt", docs / "scan.pdf"
    good.write_text("The board meets on Tuesdays in room 4.", encoding="utf-8")
    bad.write_bytes(b"%PDF-1.4 this is not a PDF")
    settings = Settings(database_url=SecretStr(postgres_url), _env_file=None)  # type: ignore[call-arg]
    IngestQueue(QueueSettings(postgres_url)).prepare()
    with OllamaProtocolServer(models=["nomic-embed-text:latest"], embed=embed) as ollama:
        env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")} | {
            "RAG_DATABASE_URL": postgres_url,
            "RAG_EMBEDDER": "ollama:nomic-embed-text",
            "RAG_OLLAMA_HOST": ollama.url,
            "PYTHONPATH": str(ROOT),
        }

        def scan() -> str:
            return rag_scan(env, docs, tmp_path / "scanner")

        fleet = Fleet(tmp_path, env, settings)
        try:
            worker = fleet.start()
            down.set()
            assert scan().startswith("queued 2 (new 2,")
            # Retried with backoff (2 s, then 4 s) while the embedder is down; the PDF fails once.
            wait_for(lambda: worker.log.read_text().count("retrying  ") >= 2, "two retries")
            down.clear()
            wait_for(
                lambda: committed(settings, str(good.resolve())), "the text file, once the embedder is back"
            )
            wait_for(lambda: path_jobs_left(postgres_url) == 0, "the queue to empty")
            with psycopg.connect(postgres_url) as conn:
                rows = conn.execute(
                    "SELECT args->>'source', status::text, attempts FROM procrastinate_jobs "
                    "WHERE task_name = %s",
                    (PATH_TASK,),
                ).fetchall()
            jobs = {str(source): (str(status), int(attempts)) for source, status, attempts in rows}
            assert jobs[str(bad.resolve())] == ("failed", 1)  # not retried
            status, attempts = jobs[str(good.resolve())]
            assert status == "succeeded" and attempts >= 3
            ledger = open_ledger(settings)
            try:
                failures = ledger.failures()
            finally:
                ledger.close()
            assert [f.source for f in failures] == [str(bad.resolve())]

            # A failed file is not queued again until it changes; a deleted one is queued to be removed.
            assert "failed before and not changed since" in scan()
            good.unlink()
            later = time.time() + 5
            os.utime(bad, (later, later))
            assert scan().startswith("queued 2 (new 1, changed 0, deleted 1)")
            wait_for(lambda: path_jobs_left(postgres_url) == 0, "the queue to empty")
            assert not committed(settings, str(good.resolve()))
        finally:
            fleet.stop()
    assert "removed  " in worker.log.read_text()


def test_workers_scan_the_watched_folder_periodically_one_scan_at_a_time(
    tmp_path: Path, postgres_url: str, worker_env: dict[str, str]
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    first, second = inbox / "first.txt", inbox / "second.txt"
    first.write_text("The canteen opens at eight.", encoding="utf-8")
    env = worker_env | {"RAG_WATCH_DIR": str(inbox), "RAG_SCAN_INTERVAL_S": "1"}
    settings = Settings(database_url=SecretStr(postgres_url), _env_file=None)  # type: ignore[call-arg]
    IngestQueue(QueueSettings(postgres_url)).prepare()
    fleet = Fleet(tmp_path, env, settings)

    def scans_waiting() -> int:
        with psycopg.connect(postgres_url) as conn:
            row = conn.execute(
                "SELECT count(*) FROM procrastinate_jobs WHERE task_name = 'rag_scan' AND status = 'todo'"
            ).fetchone()
        return int(row[0]) if row else 0

    waiting: list[int] = []
    try:
        fleet.start()
        fleet.start()  # both ask for the scan at start: one is queued
        wait_for(lambda: committed(settings, str(first.resolve())), "the first file, found by a scan")
        second.write_text("The canteen closes at three.", encoding="utf-8")

        def second_ingested() -> bool:
            waiting.append(scans_waiting())
            return committed(settings, str(second.resolve()))

        wait_for(second_ingested, "the next scan")
    finally:
        fleet.stop()
    assert max(waiting) == 1  # never two scans of the folder waiting
    logs = "".join(w.log.read_text() for w in fleet.workers)
    assert "scanned  " in logs and "queued 1 (new 1" in logs


def test_a_worker_takes_the_hostile_corpus_one_bad_file_at_a_time_and_keeps_going(
    tmp_path: Path, postgres_url: str, worker_env: dict[str, str]
) -> None:
    """The hostile corpus (tests/support/hostile.py, small size and tight limits as in the fast tier)
    through `rag scan` and one `rag worker`: the worker survives every case, the queue empties, each
    case lands where `rag ingest` puts it (ingested, or failed in the ledger with a reason a user can
    act on), and the secret behind the XXE and the links out of the folder never reaches the store."""
    corpus = tmp_path / "corpus"
    cases = build(corpus, tmp_path / "private", scale=0.02)
    env = worker_env | {"RAG_MAX_FILE_MB": "5", "RAG_MAX_FILE_CHUNKS": "200", "RAG_FILE_TIMEOUT_S": "10"}
    settings = Settings(database_url=SecretStr(postgres_url), _env_file=None)  # type: ignore[call-arg]
    IngestQueue(QueueSettings(postgres_url)).prepare()
    fleet = Fleet(tmp_path, env, settings)
    try:
        worker = fleet.start()
        scanned = rag_scan(env, corpus, tmp_path / "scanner")
        assert scanned.startswith("queued "), scanned
        wait_for(lambda: path_jobs_left(postgres_url) == 0, "the queue to empty")
        assert worker.process.poll() is None, worker.log.read_text()
    finally:
        fleet.stop()

    ledger = open_ledger(settings)
    try:
        failed = {printable(f.source): f.error for f in ledger.failures()}
        records = list(documents_under(ledger))
    finally:
        ledger.close()
    # The ledger keeps the files a worker read; links the walk refused never became jobs.
    wrong = misplaced(cases, corpus, failed, {r.source for r in records}, every_failure_listed=False)
    assert wrong == [], "\n".join(wrong)
    # The walk refuses the links out of the folder and the name that is not UTF-8: never read, not listed.
    read = [c for c in cases if c.expect == "failed" and not c.raw_name and not c.name.startswith("links/")]
    assert sorted(failed) == sorted(printable(str((corpus / c.name).resolve())) for c in read)
    for where, reason in failed.items():
        assert "\n" not in reason and "Traceback" not in reason and "Unexpected error" not in reason, where
    assert "Traceback" not in worker.log.read_text()
    print(f"\nhostile corpus through a worker: {len(records)} ingested, {len(failed)} failed in the ledger")

    store = open_store(fleet.settings.model_copy(update={"data_dir": worker.data_dir}), None)
    try:
        assert store.chunk_counts() == {r.doc_id: r.chunks for r in records}  # ledger = store
        chunks = store.get([chunk_id for r in records for chunk_id in r.chunk_ids])
    finally:
        store.close()
    assert chunks and not any("BLUEHERON" in chunk.text for chunk in chunks)
    assert not any("private" in chunk.source for chunk in chunks)
