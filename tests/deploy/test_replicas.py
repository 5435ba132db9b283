"""Stateless API replicas behind haproxy (issue 17): three real `rag serve` processes behind a real
haproxy running deploy/haproxy.cfg as shipped, 20 clients sending 1,000 reads through it while one
replica is SIGKILLed and another is stopped gracefully and started again. With our client's single
retry no read fails, and every result equals the reference answer for its query, which every replica
gives alike.

Without a Qdrant server to share (no Docker here), each replica serves its own copy of one data dir,
ingested once; with PostgreSQL and a Qdrant server they would share one knowledge base
(docker-compose.scale.yml). All use the packaged MiniLM embedder, like the other `rag serve` tests.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from support.haproxy import HAProxy, haproxy_binary
from support.processes import free_port, stop

from api.remote import ServerClient
from api.server_file import ServerInfo
from rag.config import Settings
from rag.types import SearchFilters

pytestmark = pytest.mark.slow  # three servers and an ingest, each loading MiniLM

ROOT = Path(__file__).resolve().parents[2]
EMBEDDER = "sentence-transformers:all-MiniLM-L6-v2"
KEY = "replica-test-key-4f2a9c71"
CORPUS = [
    "expense_policy.md",
    "incident_response_runbook.md",
    "release_notes_platform_4.md",
    "database_failover_runbook.txt",
    "it_faq.txt",
    "onboarding_guide.html",
    "travel_policy.html",
]
QUERIES = [
    "How do I reset my password?",
    "hotel limit per night",
    "Who approves expenses above the limit?",
    "database failover steps",
    "what is new in platform 4",
    "first day laptop setup",
    "incident severity levels",
    "VPN does not connect",
]
MODES = ("hybrid", "dense", "sparse")
REQUESTS = 1000
CLIENTS = 20
KILL_AT = 200  # the request that SIGKILLs api1 as it goes out
STOP_AT = 400  # the request that starts the graceful stop and restart of api2
REJOINED_BY = 700  # requests from here on wait until the restarted api2 is back in haproxy
DOCUMENTS_EVERY = 10  # one read in ten lists the documents (GET), the rest search (POST)


def rag_env(data: Path) -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("RAG_")} | {
        "RAG_DATA_DIR": str(data),
        "RAG_EMBEDDER": EMBEDDER,
        "RAG_LLM": "none",
        "RAG_API_KEYS": KEY,
        "HF_HUB_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }


@dataclass
class Replica:
    name: str
    data: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.data.parent / f"{self.name}.log"

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "api.cli", "serve", "--port", str(self.port)],
                cwd=ROOT, env=rag_env(self.data), stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip

    def wait_ready(self) -> None:
        deadline = time.monotonic() + 180
        while True:
            assert self.process is not None and self.process.poll() is None, self.log.read_text()
            try:
                ready = httpx.get(f"{self.url}/ready", headers={"Authorization": f"Bearer {KEY}"}, timeout=5)
                if ready.status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"{self.name} did not come up:\n{self.log.read_text()}"
            time.sleep(0.3)


def read(remote: ServerClient, index: int) -> Any:
    """The read that request ``index`` makes: a document listing, or a search in one of the modes."""
    if index % DOCUMENTS_EVERY == DOCUMENTS_EVERY - 1:
        return sorted(d["doc_id"] for d in remote.documents())
    query = QUERIES[index % len(QUERIES)]
    mode = MODES[(index // len(QUERIES)) % len(MODES)]
    return remote.search(query, 5, mode, SearchFilters())


def client(url: str) -> ServerClient:
    settings = Settings(api_keys=SecretStr(KEY), _env_file=None)  # type: ignore[call-arg]
    info = ServerInfo(url=url, pid=0, host=socket.gethostname(), collection=settings.collection)
    return ServerClient(info, settings)


def reference_reads(url: str) -> dict[int, Any]:
    """One replica's answer to every distinct read the load makes (their index modulo the cycle)."""
    cycle = len(QUERIES) * len(MODES) * DOCUMENTS_EVERY
    remote = client(url)
    try:
        return {i: read(remote, i) for i in range(cycle)}
    finally:
        remote.close()


@dataclass
class Load:
    """The shared state of the 20 clients: who sends which request, and what came back."""

    cycle: int
    reference: dict[int, Any]
    next_index: int = 0
    failed: list[str] = field(default_factory=list)
    different: list[tuple[int, Any]] = field(default_factory=list)
    retried: int = 0
    completed: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    kill: threading.Event = field(default_factory=threading.Event)
    stop: threading.Event = field(default_factory=threading.Event)
    rejoined: threading.Event = field(default_factory=threading.Event)

    def take(self) -> int | None:
        with self.lock:
            index, self.next_index = self.next_index, self.next_index + 1
        if index == KILL_AT:
            self.kill.set()
        if index == STOP_AT:
            self.stop.set()
        if index >= REQUESTS:
            return None
        if index >= REJOINED_BY:
            self.rejoined.wait()  # set by the chaos thread, also when it fails
        return index

    def run_client(self, url: str) -> None:
        remote = client(url)
        try:
            while (index := self.take()) is not None:
                try:
                    result = read(remote, index)
                except Exception as exc:  # a failed read: what the user would have seen
                    with self.lock:
                        self.completed += 1
                        self.failed.append(f"request {index}: {type(exc).__name__}: {exc}")
                    continue
                with self.lock:
                    self.completed += 1
                    if not same_result(result, self.reference[index % self.cycle]):
                        self.different.append((index, result))
        finally:
            with self.lock:
                self.retried += remote.retried
            remote.close()


# A replica embeds queries that arrive together in one batch (rag.embedding.local._QueryBatcher), and a
# query's vector then differs from its lone vector in the last float digits: scores move by about 1e-6
# with the company a query keeps, on any one server. The passages, their order and every other field
# must be the same.
SCORE_TOLERANCE = 1e-4


def same_result(result: Any, reference: Any) -> bool:
    if not (result and isinstance(result[0], dict)):
        return bool(result == reference)  # a document listing
    return len(result) == len(reference) and all(
        {**hit, "score": 0} == {**ref, "score": 0} and abs(hit["score"] - ref["score"]) <= SCORE_TOLERANCE
        for hit, ref in zip(result, reference, strict=True)
    )


def _brief(result: Any) -> str:
    if result and isinstance(result[0], dict):
        return str([(h["chunk_id"][:8], h["score"]) for h in result])
    return str(result)


def served(stats: dict[str, dict[str, str]], server: str) -> int:
    """Responses haproxy passed on from this replica (any status)."""
    row = stats[f"rag_replicas/{server}"]
    return sum(int(row[f"hrsp_{c}xx"] or 0) for c in range(1, 6)) + int(row["hrsp_other"] or 0)


def test_three_replicas_behind_haproxy_lose_no_read_through_a_kill_and_a_restart(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    haproxy_binary()  # or skip, before minutes of setup
    caplog.set_level(logging.DEBUG, logger="rag.remote")  # why each retry was made, for the report
    docs = tmp_path / "docs"
    docs.mkdir()
    for name in CORPUS:
        shutil.copy(ROOT / "sample_docs" / name, docs / name)
    first = tmp_path / "api1" / "data"
    ingested = subprocess.run(
        [sys.executable, "-m", "api.cli", "ingest", str(docs)],
        cwd=ROOT, env=rag_env(first), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert ingested.returncode == 0, ingested.stderr
    replicas = [Replica("api1", first)]
    for name in ("api2", "api3"):
        shutil.copytree(first, tmp_path / name / "data")
        replicas.append(Replica(name, tmp_path / name / "data"))

    haproxy: HAProxy | None = None
    try:
        for replica in replicas:
            replica.start()
        for replica in replicas:
            replica.wait_ready()

        # Every replica gives the same answer to every read: that answer is the reference.
        reference = reference_reads(replicas[0].url)
        assert all(reference_reads(r.url) == reference for r in replicas[1:])
        assert all(reference[i] for i in reference), "every read finds something"

        haproxy = HAProxy([f"127.0.0.1:{r.port}" for r in replicas], KEY, tmp_path)
        for replica in replicas:
            haproxy.wait_status(replica.name, "UP")
        # A streamed answer (SSE; passages, as no LLM is configured) comes through haproxy whole.
        question = "What is the hotel limit per night?"
        direct, balanced = client(replicas[2].url), client(haproxy.url)
        streamed = [e.answer for e in balanced.stream(question, fallback_to_passages=True) if e.answer]
        assert streamed and streamed[0].citations, streamed
        assert streamed[0].answer == direct.answer(question, fallback_to_passages=True).answer
        direct.close()
        balanced.close()

        load = Load(cycle=len(reference), reference=reference)
        chaos_log: list[str] = []
        before_rejoin: dict[str, dict[str, str]] = {}

        def chaos() -> None:
            api1, api2 = replicas[0], replicas[1]
            assert haproxy is not None and api1.process is not None and api2.process is not None
            try:
                load.kill.wait()
                api1.process.send_signal(signal.SIGKILL)
                chaos_log.append(f"SIGKILL api1 at request {KILL_AT}")
                load.stop.wait()
                api2.process.send_signal(signal.SIGTERM)
                api2.process.wait(60)
                chaos_log.append(
                    f"api2 stopped on SIGTERM at request {STOP_AT} (exit {api2.process.returncode})"
                )
                api2.start()
                api2.wait_ready()
                haproxy.wait_status("api2", "UP")
                before_rejoin.update(haproxy.stats())
                chaos_log.append(f"api2 restarted, UP in haproxy before request {REJOINED_BY}")
            except BaseException as exc:
                chaos_log.append(f"chaos failed: {type(exc).__name__}: {exc}")
            finally:
                load.rejoined.set()

        controller = threading.Thread(target=chaos, daemon=True)
        clients = [threading.Thread(target=load.run_client, args=(haproxy.url,)) for _ in range(CLIENTS)]
        controller.start()
        for thread in clients:
            thread.start()
        for thread in clients:
            thread.join(600)
        controller.join(60)
        after = haproxy.stats()

        assert before_rejoin, "\n".join(chaos_log)
        retries = [r for r in caplog.records if r.name == "rag.remote"]
        retry_reasons = Counter(r.getMessage().rsplit(" after ", 1)[-1].split("(", 1)[0] for r in retries)
        per_replica = {r.name: served(after, r.name) for r in replicas}
        after_rejoin = {r.name: served(after, r.name) - served(before_rejoin, r.name) for r in replicas[1:]}
        backend, frontend = after["rag_replicas/BACKEND"], after["rag_api/FRONTEND"]
        report = (
            f"\nreplicas: {REQUESTS} reads from {CLIENTS} clients; {'; '.join(chaos_log)}"
            f"\nserved per replica: {per_replica}; after api2 rejoined: {after_rejoin}"
            f"\nclient retries: {load.retried} {dict(retry_reasons)}; haproxy retries: {backend['wretr']}, "
            f"redispatches: {backend['wredis']}, 5xx passed on: {backend['hrsp_5xx']}, "
            f"requests seen: {frontend['req_tot']}, 5xx answered: {frontend['hrsp_5xx']}"
            f"\nfailed reads: {len(load.failed)}; results unlike the reference: {len(load.different)}"
        )
        print(report)
        assert load.completed == REQUESTS, report
        assert load.failed == [], report + "\n" + "\n".join(load.failed[:10])
        assert load.different == [], report + "".join(
            f"\n{i}: {_brief(result)}\n ref: {_brief(reference[i % len(reference)])}"
            for i, result in load.different[:5]
        )
        assert all(per_replica[r.name] > 0 for r in replicas), report  # each replica served
        assert all(n > 0 for n in after_rejoin.values()), report  # the restarted one serves again
    finally:
        if haproxy is not None:
            haproxy.stop()
        for replica in replicas:
            if replica.process is not None and replica.process.poll() is None:
                stop(replica.process, 20)
