"""Concurrency: N clients asking `/v1/query` at once against a real `rag serve` with a real small LLM.

What it answers: how answer throughput and latency change as clients are added, and that past the server's
answer limit (RAG_MAX_CONCURRENT_ANSWERS generating + RAG_ANSWER_QUEUE_LIMIT waiting) the only extra outcome
is a prompt 429 with Retry-After (or a 503 when the LLM is down): no 500s, no dropped connections.

Set-up, as a user would do it: `rag ingest` the sample corpus into a temporary data dir, start `rag serve` on
a free loopback port (API keys off, which the server allows on 127.0.0.1 only), wait for /ready, send one
warm-up question. The LLM is, by default, the test suite's Qwen2.5-0.5B-Instruct under llama.cpp's
OpenAI-compatible server (tests/support/llm.py; the repo's `tests` dir is put on sys.path for that import
only). `--llm-url URL --llm-model MODEL` use a server that is already running instead: an OpenAI-compatible
/v1 endpoint, or Ollama's native API with `--llm-model ollama:qwen2.5:14b --llm-url http://host:11434`.

Clients: a level of N clients is N threads, each with its own HTTP connection, asking questions back to back
until `--duration` seconds have passed (or `--requests-per-client` each). A 429 is handled as a polite client
would: wait Retry-After, ask again, at most `--retries` times (0: a 429 is final). Every attempt is recorded,
so the JSON shows both the raw rejections and whether the retries got answers. In duration mode no attempt
starts after the deadline: a question whose retry would is counted as `abandoned` (not a failure), and its
client stops there.

`ok` is false, and `failures` says why, when any response is not 200/429/503, a connection fails, a 429 has
no Retry-After, a 200 is not an answer, a level within capacity gets a 429/503 (the queue should have held
it), or a level past capacity gets no 429 at all (the limit was not enforced).

Defaults: one answer generating and one waiting (capacity 2), levels 1, 2, 4, 8, so 4 and 8 are past the
limit. One slot because llama-cpp-python's server generates one answer at a time anyway (the test
server runs with `--interrupt_requests False`: by default it ends a running stream early, as if it were
complete, when another request arrives, which `answer_chars_mean` would show and no status does).
Ratios are against the first level (1 client: the sequential baseline); with one slot expect
throughput near 1x at every level and p95 growing with the queue. Other
work on the machine slows every answer, so each level records the load.

Run from the repo root (about 8 minutes with the defaults on an idle 2-core machine; exit status 1 when
`ok` is false):

    .venv/bin/python -m bench.concurrency > build/bench-concurrency.json

`--search` measures `/v1/search` under 1, 4 and 16 clients instead, against an earlier commit in the
same run (`--before REF`): see bench/search_load.py.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.common import emit, percentiles, progress

ROOT = Path(__file__).resolve().parent.parent
ALLOWED = {200, 429, 503}  # 429: past the queue; 503: the LLM is unreachable
MAX_FAILURES_LISTED = 50


@dataclass(frozen=True)
class Options:
    clients: list[int]
    duration_s: float | None  # None: --requests-per-client mode
    requests_per_client: int | None
    max_concurrent: int
    queue_limit: int
    retries: int
    timeout_s: float
    docs: Path
    questions: Path
    include_unanswerable: bool
    embedder: str
    llm_url: str | None
    llm_model: str | None
    llm_server_context: int
    llm_context_tokens: int
    llm_max_answer_tokens: int
    server_env: dict[str, str]

    @property
    def capacity(self) -> int:
        """Requests the server takes at once without refusing: generating plus waiting."""
        return self.max_concurrent + self.queue_limit


@dataclass(frozen=True)
class Attempt:
    """One HTTP request. ``status`` None: the connection failed; ``detail`` then says how."""

    status: int | None
    latency_ms: float
    retry_after: str | None = None
    detail: str | None = None  # error body excerpt, transport error, or why a 200 is not an answer
    server_ms: float | None = None  # the answer's own timings.total_ms (excludes waiting for a slot)
    refused: bool | None = None
    answer_chars: int | None = None

    @property
    def answered(self) -> bool:
        return self.status == 200 and self.detail is None


@dataclass
class Request:
    """One question, with every attempt it took (retries after 429 included)."""

    question: str
    attempts: list[Attempt] = field(default_factory=list)
    end_to_end_ms: float = 0.0  # first attempt sent -> last response, retry waits included
    outcome: str = "answered"  # answered | gave_up (retries used up) | abandoned (deadline) | failed


# -- options ---------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> Options:
    parser = argparse.ArgumentParser(
        prog="python -m bench.concurrency", description="N concurrent /v1/query clients against rag serve."
    )
    add = parser.add_argument
    add("--clients", default="1,2,4,8", help="Client counts; the first is the baseline (1,2,4,8).")
    amount = parser.add_mutually_exclusive_group()
    amount.add_argument("--duration", type=float, default=None, help="Seconds per level (60).")
    amount.add_argument("--requests-per-client", type=int, default=None, help="Or questions per client.")
    add("--max-concurrent", type=int, default=1, help="RAG_MAX_CONCURRENT_ANSWERS (1).")
    add("--queue-limit", type=int, default=1, help="RAG_ANSWER_QUEUE_LIMIT (1).")
    add("--retries", type=int, default=5, help="Retries after a 429, waiting Retry-After; 0: none (5).")
    add("--timeout", type=float, default=300.0, help="Client timeout per request, seconds (300).")
    add("--docs", type=Path, default=ROOT / "sample_docs", help="Corpus to ingest (sample_docs).")
    add("--questions", type=Path, default=None, help="JSONL, `question` field (questions.jsonl in --docs).")
    add("--include-unanswerable", action="store_true", help="Also ask questions marked unanswerable.")
    add("--embedder", default="sentence-transformers:all-MiniLM-L6-v2", help="RAG_EMBEDDER.")
    add("--llm-url", default=None, help="A running LLM server to use instead of the local llama.cpp.")
    add("--llm-model", default=None, help="`name`/`openai:name` (a /v1 URL) or `ollama:name` (Ollama).")
    add("--llm-server-context", type=int, default=2048, help="n_ctx of the local llama.cpp (2048).")
    add("--llm-context-tokens", type=int, default=1280, help="RAG_LLM_CONTEXT_TOKENS (1280).")
    add("--llm-max-answer-tokens", type=int, default=96, help="RAG_LLM_MAX_ANSWER_TOKENS (96).")
    add(
        "--server-env", action="append", default=[], metavar="RAG_X=VALUE", help="Extra setting (repeatable)."
    )
    args = parser.parse_args(argv)
    if (args.llm_url is None) != (args.llm_model is None):
        parser.error("--llm-url and --llm-model go together")
    clients = [int(n) for n in args.clients.split(",") if n.strip()]
    if not clients or min(clients) < 1:
        parser.error("--clients needs positive counts")
    if not all("=" in item for item in args.server_env):
        parser.error("--server-env takes NAME=VALUE")
    extra = dict(item.split("=", 1) for item in args.server_env)
    return Options(
        clients=clients,
        duration_s=None if args.requests_per_client else (args.duration or 60.0),
        requests_per_client=args.requests_per_client,
        max_concurrent=args.max_concurrent,
        queue_limit=args.queue_limit,
        retries=max(0, args.retries),
        timeout_s=args.timeout,
        docs=args.docs.resolve(),
        questions=(args.questions or args.docs / "questions.jsonl").resolve(),
        include_unanswerable=args.include_unanswerable,
        embedder=args.embedder,
        llm_url=args.llm_url,
        llm_model=args.llm_model,
        llm_server_context=args.llm_server_context,
        llm_context_tokens=args.llm_context_tokens,
        llm_max_answer_tokens=args.llm_max_answer_tokens,
        server_env=extra,
    )


def load_questions(path: Path, include_unanswerable: bool) -> list[str]:
    """By default only answerable questions: an unanswerable one is refused before the LLM is called, and
    a handful of those near-instant answers would make the levels' question mixes, not load, differ."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    questions = [str(r["question"]) for r in rows if include_unanswerable or not r.get("unanswerable")]
    if not questions:
        raise SystemExit(f"no questions in {path}")
    return questions


# -- the LLM and the server ------------------------------------------------------------------------


@contextmanager
def llm_settings(options: Options) -> Iterator[tuple[dict[str, str], str]]:
    """The RAG_ settings pointing `rag serve` at the LLM, and a description of it for the JSON."""
    if options.llm_url is not None and options.llm_model is not None:
        if options.llm_model.startswith("ollama:"):
            yield {"RAG_LLM": options.llm_model, "RAG_OLLAMA_HOST": options.llm_url}, options.llm_model
        else:
            model = options.llm_model.removeprefix("openai:")
            yield {"RAG_LLM": f"openai:{model}", "RAG_LLM_BASE_URL": options.llm_url}, f"openai:{model}"
        return
    use_test_support()
    from support.llm import LLMUnavailable, llama_cpp_server

    progress(f"starting llama.cpp with Qwen2.5-0.5B-Instruct (n_ctx {options.llm_server_context})")
    try:
        with llama_cpp_server(context_tokens=options.llm_server_context) as server:
            env = {"RAG_LLM": f"openai:{server.model}", "RAG_LLM_BASE_URL": server.base_url}
            yield env, f"llama-cpp-python server, openai:{server.model}, n_ctx {options.llm_server_context}"
    except LLMUnavailable as exc:
        raise SystemExit(f"no local LLM ({exc}); or pass --llm-url and --llm-model") from exc


def use_test_support() -> None:
    """Make the test suite's helpers (tests/support: the llama.cpp LLM, stopping servers) importable.
    Appended, not prepended, so that tests/rag, a namespace directory, never shadows the real `rag`."""
    tests = str(ROOT / "tests")
    if tests not in sys.path:
        sys.path.append(tests)


def base_env(options: Options, data_dir: Path, llm_env: dict[str, str]) -> dict[str, str]:
    """The environment of `rag ingest` and `rag serve`: none of the caller's RAG_ settings, offline models."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("DO_NOT_TRACK", "1")
    # The subprocesses run in the temporary dir (so no stray .env is read) but must import this checkout.
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    env.update(
        {
            "RAG_DATA_DIR": str(data_dir),
            "RAG_EMBEDDER": options.embedder,
            "RAG_AUTH_DISABLED": "true",
            "RAG_MAX_CONCURRENT_ANSWERS": str(options.max_concurrent),
            "RAG_ANSWER_QUEUE_LIMIT": str(options.queue_limit),
            "RAG_LLM_CONTEXT_TOKENS": str(options.llm_context_tokens),
            "RAG_LLM_MAX_ANSWER_TOKENS": str(options.llm_max_answer_tokens),
            **llm_env,
            **options.server_env,
        }
    )
    return env


def ingest(docs: Path, env: dict[str, str], cwd: Path) -> dict[str, Any]:
    """`rag ingest --json`, as a user would run it; its report goes into the JSON."""
    progress(f"ingesting {docs}")
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "api.cli", "ingest", "--json", str(docs)],
        env=env, cwd=cwd, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"rag ingest failed ({done.returncode}):\n{done.stderr[-3000:]}")
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return {
        "seconds": round(time.perf_counter() - started, 1),
        "documents": report.get("added", 0) + report.get("updated", 0) + report.get("unchanged", 0),
        "chunks": report.get("chunks_embedded"),
        "failed": len(report.get("failed", [])),
    }


@dataclass(frozen=True)
class Server:
    url: str
    pid: int
    start_s: float


@contextmanager
def rag_serve(env: dict[str, str], cwd: Path, ready_timeout_s: float = 300.0) -> Iterator[Server]:
    """The real CLI, `rag serve`, on a free loopback port; yields once /ready says everything is up."""
    use_test_support()
    from support.processes import free_port, stop

    port = free_port()
    log_path = cwd / "rag-serve.log"
    started = time.perf_counter()
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "api.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            url = f"http://127.0.0.1:{port}"
            wait_ready(url, process, log_path, ready_timeout_s)
            yield Server(url, process.pid, round(time.perf_counter() - started, 1))
        finally:
            stop(process, 20)


def wait_ready(url: str, process: subprocess.Popen[bytes], log_path: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    last = "no answer yet"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"rag serve exited with {process.returncode}:\n{tail(log_path)}")
        try:
            response = httpx.get(f"{url}/ready", timeout=30)
            if response.status_code == 200:
                return
            last = response.text  # 503 until the store, embedder and LLM all answer
        except httpx.TransportError as exc:
            last = repr(exc)
        time.sleep(0.5)
    raise SystemExit(f"rag serve not ready after {timeout_s:.0f} s: {last}\n{tail(log_path)}")


def tail(path: Path, lines: int = 30) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def server_rss_mib(pid: int) -> dict[str, float]:
    """Resident and peak resident memory of `rag serve` (the API, embedder and store; not the LLM)."""
    values: dict[str, float] = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values["rss_mib" if key == "VmRSS" else "peak_rss_mib"] = round(
                    int(rest.split()[0]) / 1024, 1
                )
    except OSError:
        pass
    return values


# -- the clients -----------------------------------------------------------------------------------


def elapsed_ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 1)


def ask(http: httpx.Client, question: str) -> Attempt:
    start = time.perf_counter()
    try:
        response = http.post("/v1/query", json={"question": question})
    except httpx.HTTPError as exc:
        return Attempt(None, elapsed_ms(start), detail=f"{type(exc).__name__}: {exc}")
    latency = elapsed_ms(start)
    if response.status_code != 200:
        return Attempt(
            response.status_code,
            latency,
            retry_after=response.headers.get("Retry-After"),
            detail=response.text[:300],
        )
    try:
        body = response.json()
        answer, timings = str(body["answer"]), dict(body["timings"])
        refused = bool(body["refused"])
    except (ValueError, KeyError, TypeError) as exc:
        return Attempt(200, latency, detail=f"not an answer ({exc!r}): {response.text[:200]}")
    total = timings.get("total_ms")
    server_ms = float(total) if isinstance(total, int | float) else None
    return Attempt(200, latency, server_ms=server_ms, refused=refused, answer_chars=len(answer))


def retry_wait_s(retry_after: str | None) -> float:
    """Retry-After in seconds (the server sends delta-seconds); 1 s when it is missing or unreadable."""
    try:
        return max(0.0, float(retry_after)) if retry_after is not None else 1.0
    except ValueError:
        return 1.0


def ask_with_retries(http: httpx.Client, question: str, retries: int, deadline: float | None) -> Request:
    request = Request(question)
    start = time.perf_counter()
    while True:
        attempt = ask(http, question)
        request.attempts.append(attempt)
        if attempt.status != 429:
            request.outcome = "answered" if attempt.answered else "failed"
            break
        if len(request.attempts) > retries:
            request.outcome = "gave_up"
            break
        wait = retry_wait_s(attempt.retry_after)
        if deadline is not None and time.perf_counter() + wait >= deadline:
            request.outcome = "abandoned"  # the retry would fall outside the measured window
            break
        time.sleep(wait)
    request.end_to_end_ms = elapsed_ms(start)
    return request


def client(
    url: str, next_question: Callable[[], str], options: Options, start: threading.Barrier
) -> list[Request]:
    """One user: its own connection, questions back to back until the duration or its quota is used."""
    done: list[Request] = []
    with httpx.Client(base_url=url, timeout=options.timeout_s) as http:
        start.wait()
        deadline = None if options.duration_s is None else time.perf_counter() + options.duration_s
        while options.requests_per_client is None or len(done) < options.requests_per_client:
            if deadline is not None and time.perf_counter() >= deadline:
                break
            request = ask_with_retries(http, next_question(), options.retries, deadline)
            done.append(request)
            if request.outcome == "abandoned":
                break  # its retry would land after the deadline, and so would any new question's
    return done


def question_source(questions: Sequence[str]) -> Callable[[], str]:
    """Questions in the same order at every level, shared by its clients, so each level sees a similar mix."""
    counter = itertools.count()
    lock = threading.Lock()

    def next_question() -> str:
        with lock:
            return questions[next(counter) % len(questions)]

    return next_question


def run_level(
    url: str, clients: int, questions: Sequence[str], options: Options
) -> tuple[list[Request], float]:
    """All clients start together (a barrier); the wall time runs until the last one is done."""
    next_question = question_source(questions)
    start = threading.Barrier(clients + 1)
    with ThreadPoolExecutor(max_workers=clients) as pool:
        futures = [pool.submit(client, url, next_question, options, start) for _ in range(clients)]
        start.wait(timeout=60)  # a client that died before the start breaks the barrier, not a hang
        began = time.perf_counter()
        requests = [r for f in futures for r in f.result()]
        wall_s = time.perf_counter() - began
    return requests, wall_s


# -- the numbers -----------------------------------------------------------------------------------


def summarise(clients: int, requests: list[Request], wall_s: float, options: Options) -> dict[str, Any]:
    attempts = [a for r in requests for a in r.attempts]
    answered = [a for a in attempts if a.answered]
    outcomes = Counter(r.outcome for r in requests)
    retried = [r for r in requests if len(r.attempts) > 1]
    return {
        "clients": clients,
        "over_capacity": clients > options.capacity,
        "wall_s": round(wall_s, 2),
        "requests": len(requests),
        "attempts": len(attempts),
        "statuses": dict(sorted(Counter(str(a.status) for a in attempts).items())),
        "outcomes": dict(sorted(outcomes.items())),
        "retried_requests": len(retried),
        "retried_then_answered": sum(1 for r in retried if r.outcome == "answered"),
        "retry_after_values": sorted({a.retry_after for a in attempts if a.status == 429 and a.retry_after}),
        "throughput_answers_per_s": round(len(answered) / wall_s, 4) if wall_s > 0 else 0.0,
        # Client-side latency of each answered attempt: waiting for a slot plus answering.
        "latency_ms": percentiles([a.latency_ms for a in answered]),
        # What the user of an answered question waited in all, Retry-After sleeps included.
        "end_to_end_ms": percentiles([r.end_to_end_ms for r in requests if r.outcome == "answered"]),
        # The answer's own timings.total_ms: the time in the answer slot.
        "server_answer_ms": percentiles([a.server_ms for a in answered if a.server_ms is not None]),
        "queue_wait_ms": percentiles(
            [a.latency_ms - a.server_ms for a in answered if a.server_ms is not None]
        ),
        # How fast a refusal comes back: the limiter refuses at once rather than holding the connection.
        "rejection_ms": percentiles([a.latency_ms for a in attempts if a.status == 429]),
        "refused_answers": sum(1 for a in answered if a.refused),
        "answer_chars_mean": round(sum(a.answer_chars or 0 for a in answered) / len(answered), 1)
        if answered
        else 0.0,
    }


def level_failures(clients: int, requests: list[Request], options: Options) -> list[dict[str, Any]]:
    """Everything that must not happen, per attempt and for the level as a whole (see the module doc)."""
    failures: list[dict[str, Any]] = []

    def fail(kind: str, detail: str) -> None:
        failures.append({"clients": clients, "kind": kind, "detail": detail})

    attempts = [a for r in requests for a in r.attempts]
    over = clients > options.capacity
    for a in attempts:
        if a.status is None:
            fail("connection", a.detail or "")
        elif a.status not in ALLOWED:
            fail(f"status {a.status}", a.detail or "")
        elif a.status == 200 and a.detail is not None:
            fail("malformed answer", a.detail)
        elif a.status == 429 and not a.retry_after:
            fail("429 without Retry-After", a.detail or "")
        elif a.status in (429, 503) and not over:
            fail(
                f"{a.status} within capacity", f"{clients} clients <= capacity {options.capacity}: {a.detail}"
            )
    if over and not any(a.status == 429 for a in attempts):
        fail("limit not enforced", f"{clients} clients > capacity {options.capacity} but no 429")
    if not any(a.answered for a in attempts):
        fail("no answers", "not one question was answered at this level")
    return failures


def ratio(value: float, baseline: float) -> float | None:
    return round(value / baseline, 3) if baseline > 0 else None


def ratios(levels: list[dict[str, Any]]) -> dict[str, Any]:
    """Each level against the first (the sequential baseline): a busier machine moves both sides."""
    base = levels[0]
    return {
        "baseline_clients": base["clients"],
        "by_level": [
            {
                "clients": level["clients"],
                "throughput": ratio(level["throughput_answers_per_s"], base["throughput_answers_per_s"]),
                "latency_p50": ratio(level["latency_ms"]["p50_ms"], base["latency_ms"]["p50_ms"]),
                "latency_p95": ratio(level["latency_ms"]["p95_ms"], base["latency_ms"]["p95_ms"]),
                "server_answer_p50": ratio(
                    level["server_answer_ms"]["p50_ms"], base["server_answer_ms"]["p50_ms"]
                ),
            }
            for level in levels[1:]
        ],
    }


# -- the run ---------------------------------------------------------------------------------------


def config_json(options: Options, llm: str, questions: Sequence[str]) -> dict[str, Any]:
    return {
        "clients": options.clients,
        "duration_s": options.duration_s,
        "requests_per_client": options.requests_per_client,
        "max_concurrent_answers": options.max_concurrent,
        "answer_queue_limit": options.queue_limit,
        "capacity": options.capacity,
        "retries_after_429": options.retries,
        "client_timeout_s": options.timeout_s,
        "llm": llm,
        "llm_context_tokens": options.llm_context_tokens,
        "llm_max_answer_tokens": options.llm_max_answer_tokens,
        "embedder": options.embedder,
        "docs": str(options.docs),
        "questions": len(questions),
        "server_env": options.server_env,
    }


def measure(server: Server, questions: Sequence[str], options: Options) -> dict[str, Any]:
    """Warm up once (the first answer pays for loading), then every level in turn."""
    with httpx.Client(base_url=server.url, timeout=options.timeout_s) as http:
        warm_up = ask(http, questions[0])
    failures: list[dict[str, Any]] = []
    levels: list[dict[str, Any]] = []
    if not warm_up.answered:
        failures.append(
            {"clients": 0, "kind": "warm-up failed", "detail": f"{warm_up.status}: {warm_up.detail}"}
        )
        return {"warm_up_ms": warm_up.latency_ms, "levels": levels, "failures": failures}
    for clients in options.clients:
        progress(f"{clients} client(s)...")
        requests, wall_s = run_level(server.url, clients, questions, options)
        level = summarise(clients, requests, wall_s, options) | {
            "server_memory": server_rss_mib(server.pid),
            # Other work on the machine slows every answer: the load says how busy it was meanwhile.
            "load_avg_1m_after": round(os.getloadavg()[0], 2),
        }
        levels.append(level)
        failures += level_failures(clients, requests, options)
        progress(
            f"  {level['requests']} questions, statuses {level['statuses']}, "
            f"{level['throughput_answers_per_s']} answers/s, p95 {level['latency_ms']['p95_ms']:.0f} ms"
        )
    return {"warm_up_ms": warm_up.latency_ms, "levels": levels, "failures": failures}


def run(options: Options) -> dict[str, Any]:
    questions = load_questions(options.questions, options.include_unanswerable)
    with llm_settings(options) as (llm_env, llm), tempfile.TemporaryDirectory(prefix="bench-conc-") as tmp:
        work = Path(tmp)
        env = base_env(options, work / "data", llm_env)
        ingested = ingest(options.docs, env, work)
        progress("starting rag serve")
        with rag_serve(env, work) as server:
            measured = measure(server, questions, options)
    levels, failures = measured["levels"], measured["failures"]
    return {
        "benchmark": "concurrency",
        "config": config_json(options, llm, questions),
        "setup": {"ingest": ingested, "server_start_s": server.start_s, "warm_up_ms": measured["warm_up_ms"]},
        "levels": levels,
        "ratios": ratios(levels) if levels else {},
        "ok": not failures,
        "failure_count": len(failures),
        "failures": failures[:MAX_FAILURES_LISTED],
    }


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if "--search" in arguments:  # search under load: bench/search_load.py
        from bench.search_load import main as search_main

        return search_main(arguments)
    result = run(parse_args(arguments))
    emit(result)
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
