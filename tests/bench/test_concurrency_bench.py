"""bench/concurrency.py through its real code path, cheaply: `rag ingest` and `rag serve` as subprocesses,
with the in-test Ollama protocol server as embedder and LLM (each token slowed down, so an answer holds its
slot long enough for clients to collide), three small documents, one answer slot and no queue, 1 then 3
clients. Behaviour only: no timing is asserted."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest
from support.ollama_server import OllamaProtocolServer

from bench import concurrency
from bench.concurrency import Attempt, Options, Request, ask_with_retries, level_failures

MODEL = "qwen2.5:14b"  # one of the models the ollama_server fixture has pulled
DOCS = {
    "travel.md": "# Travel\n\nBook flights at least 21 days before departure.\n",
    "it_faq.txt": "How do I reset my password?\n\nOpen the self-service portal and choose Forgot password.\n",
    "leave.md": "# Sick leave\n\nReport sick leave to your manager before 9:00.\n",
}
QUESTIONS = [
    "How many days before departure must I book flights?",
    "How do I reset my password?",
    "Who do I tell when I am sick?",
]
REPLY = "According to the documents, the answer is in the first passage [1]."


def test_bench_reports_levels_ratios_and_only_429s_past_the_limit(
    ollama_server: OllamaProtocolServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ollama_server.respond = lambda messages: REPLY
    ollama_server.token_delay_s = 0.05  # about half a second per answer
    docs = tmp_path / "docs"
    docs.mkdir()
    for name, text in DOCS.items():
        (docs / name).write_text(text, encoding="utf-8")
    questions = tmp_path / "questions.jsonl"
    questions.write_text("".join(json.dumps({"question": q}) + "\n" for q in QUESTIONS), encoding="utf-8")

    code = concurrency.main(
        [
            "--docs", str(docs), "--questions", str(questions),
            "--embedder", "ollama:nomic-embed-text",
            "--llm-url", ollama_server.url, "--llm-model", f"ollama:{MODEL}",
            "--clients", "1,3", "--requests-per-client", "3",
            "--max-concurrent", "1", "--queue-limit", "0", "--retries", "1",
            # Hashed bag-of-words embeddings are not similar enough for the default confidence gate, and
            # a gated answer never reaches the LLM (nor holds the slot long enough to be contended).
            "--server-env", "RAG_MIN_RELEVANCE=-1",
        ]
    )  # fmt: skip
    result = json.loads(capsys.readouterr().out)

    assert result["failures"] == [] and result["ok"] is True and code == 0
    assert result["benchmark"] == "concurrency" and "cores" in result["machine"]
    assert result["config"]["capacity"] == 1 and result["config"]["llm"] == f"ollama:{MODEL}"
    assert result["setup"]["ingest"]["documents"] == 3
    one, three = result["levels"]
    assert [one["clients"], three["clients"]] == [1, 3]
    assert (one["over_capacity"], three["over_capacity"]) == (False, True)

    # One client is never refused; three against one slot and no queue are, and only with a 429.
    assert one["statuses"] == {"200": 3} and one["outcomes"] == {"answered": 3}
    assert set(three["statuses"]) <= {"200", "429", "503"}
    assert three["statuses"]["429"] >= 1
    # Retry-After is estimated from answer times: these fake answers take well under a second.
    assert three["retry_after_values"] and all(1 <= int(v) <= 5 for v in three["retry_after_values"])
    assert three["requests"] == 9 and three["attempts"] > three["requests"]  # 429s were retried
    assert three["retried_requests"] >= 1
    assert sum(three["outcomes"].values()) == 9 and set(three["outcomes"]) <= {"answered", "gave_up"}
    assert three["statuses"]["200"] == three["outcomes"]["answered"] >= 1
    assert three["rejection_ms"]["n"] == three["statuses"]["429"]

    for level in result["levels"]:
        for name in ("latency_ms", "end_to_end_ms", "server_answer_ms"):
            stats = level[name]
            assert stats["n"] >= 1, name
            assert 0 < stats["p50_ms"] <= stats["p95_ms"] <= stats["p99_ms"], (name, stats)
        assert level["throughput_answers_per_s"] > 0 and level["answer_chars_mean"] > 0
        assert level["server_memory"]["peak_rss_mib"] > 0
    [vs_one] = result["ratios"]["by_level"]
    assert result["ratios"]["baseline_clients"] == 1 and vs_one["clients"] == 3
    assert vs_one["throughput"] > 0 and vs_one["latency_p95"] > 0


def test_anything_but_200_429_503_or_a_missing_limit_is_a_failure() -> None:
    """The verdict alone, on recorded attempts: no server needed."""
    options = concurrency.parse_args(["--max-concurrent", "1", "--queue-limit", "1"])
    assert isinstance(options, Options) and options.capacity == 2

    def request(*attempts: Attempt) -> Request:
        return Request("q", list(attempts))

    answer = Attempt(200, 10.0, server_ms=9.0, refused=False, answer_chars=5)
    busy = Attempt(429, 1.0, retry_after="5")
    assert level_failures(4, [request(answer), request(busy, answer)], options) == []

    kinds = [
        f["kind"]
        for f in level_failures(
            4,
            [
                request(Attempt(500, 1.0, detail="boom")),
                request(Attempt(None, 1.0, detail="ConnectError")),
                request(Attempt(429, 1.0)),
                request(Attempt(200, 1.0, detail="not an answer")),
                request(answer),
            ],
            options,
        )
    ]
    assert kinds == ["status 500", "connection", "429 without Retry-After", "malformed answer"]
    # Within capacity the queue must hold every request; past it, some request must be refused.
    assert [f["kind"] for f in level_failures(2, [request(busy, answer)], options)] == ["429 within capacity"]
    assert [f["kind"] for f in level_failures(3, [request(answer)], options)] == ["limit not enforced"]


def test_a_429_is_retried_after_retry_after_but_never_past_the_deadline() -> None:
    replies = iter([httpx.Response(429, headers={"Retry-After": "0"}), answer_response()])
    with httpx.Client(transport=httpx.MockTransport(lambda _: next(replies)), base_url="http://rag") as http:
        request = ask_with_retries(http, "q", retries=1, deadline=None)
    assert request.outcome == "answered" and [a.status for a in request.attempts] == [429, 200]

    busy = httpx.MockTransport(lambda _: httpx.Response(429, headers={"Retry-After": "0"}))
    with httpx.Client(transport=busy, base_url="http://rag") as http:
        assert ask_with_retries(http, "q", retries=2, deadline=None).outcome == "gave_up"
    slow = httpx.MockTransport(lambda _: httpx.Response(429, headers={"Retry-After": "5"}))
    with httpx.Client(transport=slow, base_url="http://rag") as http:
        request = ask_with_retries(http, "q", retries=5, deadline=time.perf_counter() + 1)
    assert request.outcome == "abandoned" and len(request.attempts) == 1  # and no 5 s sleep


def answer_response() -> httpx.Response:
    body = {"answer": "21 days [1].", "refused": False, "timings": {"total_ms": 3.0}, "citations": []}
    return httpx.Response(200, json=body)
