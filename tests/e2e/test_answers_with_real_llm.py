"""End to end with a real small LLM: Qwen2.5-0.5B-Instruct behind llama.cpp's OpenAI-compatible server
answers the sample questions through the OpenAI-compatible generator, and no socket leaves the machine."""

from __future__ import annotations

import ipaddress
import json
import re
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import SAMPLE_DOCS
from support.llm import LLMServer

from rag.answer import AnswerService
from rag.evaluation.answers import AnswerJudge, evaluate_answers
from rag.evaluation.dataset import load_dataset
from rag.generation.openai_compat import OpenAICompatibleGenerator
from rag.knowledge_base import KnowledgeBase
from rag.prompt import EXAMPLE_SOURCES
from rag.types import Chunk

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


def test_sample_questions_are_answered_with_citations_or_refused(
    sample_kb: KnowledgeBase, llm_server: LLMServer, loopback_only: list[Any]
) -> None:
    """The same judging `rag eval` does, on the real model: refusals, citation precision, correctness."""
    settings = sample_kb.settings.model_copy(update={"llm_context_tokens": 1280, "llm_max_answer_tokens": 96})
    generator = OpenAICompatibleGenerator(
        llm_server.model, llm_server.base_url, api_key=None, temperature=0.0, timeout_s=300
    )
    service = AnswerService(settings, sample_kb.retriever(), generator, sample_kb.embedder.name)
    root = SAMPLE_DOCS.resolve()

    def chunk_of(chunk_id: str) -> Chunk | None:
        found = sample_kb.store.get([chunk_id])
        return found[0] if found else None

    judge = AnswerJudge(sample_kb.embedder, chunk_of, lambda c: Path(c.source).relative_to(root).as_posix())
    report = evaluate_answers(service, load_dataset(SAMPLE_DOCS).queries, judge)
    generator.close()

    for row in report["per_question"]:
        if not row["refused"]:
            assert {"retrieval_ms", "first_token_ms", "generation_ms", "total_ms"} <= set(row["timings"])
    REPORT.parent.mkdir(exist_ok=True)
    REPORT.write_text(json.dumps(report, indent=1))
    summary = {k: v for k, v in report.items() if k != "per_question"}
    print("\nanswer metrics:", json.dumps(summary, indent=1))

    assert loopback_only == []
    # The prompt's one-shot example is about an invented world: no answer may repeat it.
    invented = set(re.findall(r"\b[A-Z][a-z]+\b", " ".join(t for _, t in EXAMPLE_SOURCES))) - {"The"}
    assert invented == {"Zorb", "Ippa", "Ollo"}
    leaks = [r["id"] for r in report["per_question"] if invented & set(re.findall(r"\w+", r["answer"]))]
    assert leaks == []
    assert report["quotes_verbatim"] == 1.0  # every quote is copied from the passage it cites
    # The gate refuses up front only what is clearly off-topic (4 of the 5 sample questions); near-misses
    # go to the model, which must refuse them itself. The bar for the small model: >= 0.80.
    assert report["refusal_accuracy"] >= 0.8
    assert report["cited_relevant_document_rate"] >= 0.7
    # Measured 0.52 with the 0.5B model (it often cites the right file but a neighbouring passage).
    assert report["citation_precision"] is not None and report["citation_precision"] >= 0.4
