"""End to end with a real small LLM: Qwen2.5-0.5B-Instruct behind llama.cpp's OpenAI-compatible server
answers the sample questions through the OpenAI-compatible generator, and no socket leaves the machine."""

from __future__ import annotations

import ipaddress
import json
import socket
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import sample_questions
from support.llm import LLMServer

from rag.answer import Answer, AnswerService
from rag.generation.openai_compat import OpenAICompatibleGenerator
from rag.knowledge_base import KnowledgeBase

REPORT = Path(__file__).resolve().parent.parent.parent / "build" / "answer-report.json"


@pytest.fixture
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """Every socket connection to a non-loopback address fails, and is recorded."""
    attempts: list[Any] = []
    real_connect = socket.socket.connect

    def guarded(self: socket.socket, address: Any) -> Any:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            host = address[0]
            try:
                loopback = ipaddress.ip_address(host).is_loopback
            except ValueError:
                loopback = host == "localhost"
            if not loopback:
                attempts.append(address)
                raise OSError(f"blocked non-loopback connection to {address}")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)
    yield attempts


def classify(question: dict[str, Any], answer: Answer) -> str:
    sources = {Path(c.source).name for c in answer.citations}
    if question.get("unanswerable"):
        return "unanswerable/refused" if answer.refused else "unanswerable/answered"
    if answer.refused:
        return "answerable/refused"
    if question["source"] in sources:
        return "answerable/cited-expected-source"
    return "answerable/answered-without-expected-citation"


def test_sample_questions_are_answered_with_citations_or_refused(
    sample_kb: KnowledgeBase, llm_server: LLMServer, loopback_only: list[Any]
) -> None:
    settings = sample_kb.settings.model_copy(update={"llm_context_tokens": 1280, "llm_max_answer_tokens": 96})
    generator = OpenAICompatibleGenerator(
        llm_server.model, llm_server.base_url, api_key=None, temperature=0.0, timeout_s=300
    )
    service = AnswerService(settings, sample_kb.retriever(), generator, sample_kb.embedder.name)
    rows = []
    for question in sample_questions():
        answer = service.answer(str(question["question"]))
        for citation in answer.citations:
            # Every quote really is in the passage it cites.
            [chunk] = sample_kb.store.get([citation.chunk_id])
            assert citation.quote and citation.quote in chunk.text
        if not answer.refused:
            assert {"retrieval_ms", "first_token_ms", "generation_ms", "total_ms"} <= set(answer.timings)
        rows.append({"id": question["id"], "outcome": classify(question, answer), **answer.to_json()})
    generator.close()

    matrix = Counter(row["outcome"] for row in rows)
    answerable = sum(1 for q in sample_questions() if not q.get("unanswerable"))
    cited_rate = matrix["answerable/cited-expected-source"] / answerable
    REPORT.parent.mkdir(exist_ok=True)
    REPORT.write_text(json.dumps({"confusion": matrix, "cited_rate": cited_rate, "answers": rows}, indent=1))
    print(
        "\nconfusion matrix:",
        json.dumps(dict(sorted(matrix.items())), indent=1),
        f"\ncited rate {cited_rate:.2f}",
    )

    assert loopback_only == []
    assert matrix["unanswerable/refused"] == 5 and matrix["unanswerable/answered"] == 0
    assert cited_rate >= 0.7
