"""The answer pipeline's steps (condense, retrieve, gate, generate, cite) in the fast tier: the real
AnswerService, retriever, fusion, gate, prompt and citation checker over the real embedded store, with
the hashing embedder and a scripted generator instead of models (tests/support/fakes.py).
test_answer.py runs the same pipeline with MiniLM over the sample documents."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from support.fakes import HashingEmbedder, ScriptedGenerator

from ingest.parse import Block, ParsedDocument
from ingest.service import IngestService
from rag.answer import AnswerService
from rag.config import Settings
from rag.generation.base import Message
from rag.knowledge_base import KnowledgeBase
from rag.prompt import REFUSAL

LEAVE = "Employees receive 27 days of paid annual leave per calendar year."
VPN = "The VPN gateway vpn.example.com accepts connections with the company certificate."
PARKING = "Staff parking is on level minus two of the north garage, free for cyclists' bikes."


@pytest.fixture(name="kb")
def kb_fixture(tmp_path: Path) -> Iterator[KnowledgeBase]:
    settings = Settings(data_dir=tmp_path / "data", _env_file=None)  # type: ignore[call-arg]
    kb = KnowledgeBase(settings, embedder=HashingEmbedder())
    documents = []
    for name, text, section in (
        ("handbook.txt", LEAVE, "Annual leave"),
        ("it.txt", VPN, "Remote access"),
        ("facilities.txt", PARKING, "Parking"),
    ):
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        documents.append((path, ParsedDocument(name, "txt", [Block(text, (section,))])))
    with IngestService(kb) as service:
        assert service.add_parsed(documents).added == 3
    yield kb
    kb.close()


def numbered(messages: Sequence[Message]) -> dict[str, int]:
    """Which [n] the prompt gave each of our three facts."""
    sources = messages[-1].content
    found = {}
    for fact in (LEAVE, VPN, PARKING):
        at = sources.find(fact)
        if at >= 0:
            found[fact] = int(re.findall(r"\[(\d+)\]", sources[:at])[-1])
    return found


def service(kb: KnowledgeBase, generator: ScriptedGenerator | None) -> AnswerService:
    return AnswerService(kb.settings, kb.retriever(), generator, kb.embedder.name)


def test_the_answer_cites_the_passage_the_model_used_with_a_verbatim_quote(kb: KnowledgeBase) -> None:
    model = ScriptedGenerator(lambda m: f"You get 27 days of paid annual leave [{numbered(m)[LEAVE]}].")
    answer = service(kb, model).answer("How many days of annual leave do employees get?")
    assert not answer.refused and answer.grounded
    [citation] = answer.citations
    assert (Path(citation.source).name, citation.section, citation.supported) == (
        "handbook.txt",
        "Annual leave",
        True,
    )
    assert citation.quote in LEAVE
    assert answer.model == "scripted:test" and "total_ms" in answer.timings


def test_a_marker_on_the_wrong_passage_moves_to_the_one_that_supports_the_sentence(kb: KnowledgeBase) -> None:
    def wrong_marker(messages: Sequence[Message]) -> str:
        wrong = next(n for fact, n in numbered(messages).items() if fact != LEAVE)
        return f"Employees receive 27 days of paid annual leave [{wrong}]."

    answer = service(kb, ScriptedGenerator(wrong_marker)).answer("annual leave days per calendar year")
    assert [Path(c.source).name for c in answer.citations] == ["handbook.txt"]
    assert answer.citations[0].origin == "moved"


def test_the_gate_refuses_an_unrelated_question_before_the_model_is_asked(kb: KnowledgeBase) -> None:
    model = ScriptedGenerator(lambda m: "should not be asked")
    answer = service(kb, model).answer("Who won the 1998 chess olympiad in Elista?")
    assert answer.refused and answer.answer == REFUSAL
    assert answer.refusal_reason and "RAG_MIN_RELEVANCE" in answer.refusal_reason
    assert model.prompts == []


def test_a_model_refusal_is_a_refusal_without_citations(kb: KnowledgeBase) -> None:
    answer = service(kb, ScriptedGenerator(lambda m: REFUSAL)).answer("VPN gateway certificate expiry?")
    assert answer.refused and answer.citations == []
    assert answer.refusal_reason == "the model found no answer in the passages it was given"


def test_without_a_model_the_answer_is_the_passages(kb: KnowledgeBase) -> None:
    answer = service(kb, None).answer("Where is staff parking?")
    assert answer.extractive and answer.grounded and not answer.refused
    assert Path(answer.citations[0].source).name == "facilities.txt"


def test_a_follow_up_is_condensed_before_retrieval(kb: KnowledgeBase) -> None:
    def reply(messages: Sequence[Message]) -> str:
        if "Conversation:" in messages[-1].content:
            return "Which host is the VPN gateway?"
        return f"The gateway is vpn.example.com [{numbered(messages)[VPN]}]."

    model = ScriptedGenerator(reply)
    history = [Message("user", "Tell me about the VPN."), Message("assistant", "It needs a certificate.")]
    events = list(service(kb, model).stream("And which host?", history))
    assert [e.kind for e in events][-1] == "answer" and events[0].kind == "token"
    final = events[-1].answer
    assert final is not None and final.question == "Which host is the VPN gateway?"
    assert [Path(c.source).name for c in final.citations] == ["it.txt"]
