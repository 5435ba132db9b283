"""AnswerService over the sample knowledge base, with OllamaGenerator talking to an in-test Ollama whose
replies are scripted from the prompt it receives: retrieve -> rerank -> gate -> prompt -> stream -> cite."""

from __future__ import annotations

import re
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import sample_questions
from support.ollama_server import OllamaProtocolServer

from rag.answer import Answer, AnswerService
from rag.embedding.local import resolve_model_path
from rag.errors import InputError, LLMUnavailableError
from rag.generation.base import Generator, Message
from rag.generation.ollama import OllamaGenerator
from rag.knowledge_base import KnowledgeBase
from rag.prompt import ANSWER_CUE, CONDENSE_PROMPT, REFUSAL, source_label
from rag.rerank import CrossEncoderReranker

Respond = Callable[[list[dict[str, Any]]], str]

QUESTIONS = {str(q["id"]): str(q["question"]) for q in sample_questions()}
LEAVE_QUESTION = QUESTIONS["q01"]  # answer: 10 weeks, employee_handbook.pdf page 3
STOCK_QUESTION = QUESTIONS["q04"]  # unanswerable
LEAVE_SENTENCE = (
    "Every employee who becomes a parent receives 10 weeks of fully paid Aldermoor Family Leave on top of "
    "the statutory parental leave."
)
_SOURCE_BLOCK = re.compile(r"^\[(\d+)\] [^\n]*\n(.*?)(?=\n\n\[\d+\] |\n\nQuestion: )", re.S | re.M)


def prompt_sources(user_content: str) -> dict[int, str]:
    """The numbered passages of an answering prompt: {n: passage text}."""
    return {int(m.group(1)): m.group(2) for m in _SOURCE_BLOCK.finditer(user_content)}


def number_of(user_content: str, fact: str) -> int:
    return next(n for n, text in prompt_sources(user_content).items() if fact in text)


def citing(fact: str, template: str) -> Respond:
    """A model that answers with ``template``, its {n} the number of the first source containing ``fact``."""

    def respond(messages: list[dict[str, Any]]) -> str:
        return template.format(n=number_of(messages[-1]["content"], fact))

    return respond


def generator_for(url: str) -> OllamaGenerator:
    return OllamaGenerator("qwen2.5:14b", url, num_ctx=8192, temperature=0.1, keep_alive="30m", timeout_s=10)


def service(
    kb: KnowledgeBase,
    generator: Generator | None,
    reranker: CrossEncoderReranker | None = None,
    **overrides: Any,
) -> AnswerService:
    settings = kb.settings.model_copy(update=overrides)
    return AnswerService(settings, kb.retriever(), generator, kb.embedder.name, reranker)


def chats(server: OllamaProtocolServer) -> list[dict[str, Any]]:
    return [r.body for r in server.requests if r.path == "/api/chat"]


def unreachable_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_answer_cites_the_handbook_page_that_states_the_fact(
    sample_kb: KnowledgeBase, ollama_server: OllamaProtocolServer
) -> None:
    ollama_server.respond = citing("10 weeks", "Employees get 10 weeks of paid family leave [{n}].")
    answer = service(sample_kb, generator_for(ollama_server.url)).answer(LEAVE_QUESTION)

    (request,) = chats(ollama_server)
    n = number_of(request["messages"][-1]["content"], "10 weeks")
    assert answer.answer == f"Employees get 10 weeks of paid family leave [{n}]."
    assert answer.question == LEAVE_QUESTION
    assert (answer.refused, answer.refusal_reason, answer.grounded, answer.extractive) == (
        False,
        None,
        True,
        False,
    )
    assert answer.model == "ollama:qwen2.5:14b"
    (citation,) = answer.citations
    assert citation.n == n
    assert Path(citation.source).name == "employee_handbook.pdf"
    assert citation.page == 3
    assert citation.section == "5. Parental and family leave > Aldermoor Family Leave"
    assert citation.quote == LEAVE_SENTENCE
    assert set(answer.timings) >= {"retrieval_ms", "first_token_ms", "generation_ms", "total_ms"}
    assert "rerank_ms" not in answer.timings and "condense_ms" not in answer.timings
    assert answer.timings["total_ms"] >= answer.timings["first_token_ms"] > 0
    # The request the model got: system rules, numbered sources, the question; streamed, full window.
    assert request["stream"] is True
    assert request["options"] == {"num_ctx": 8192, "temperature": 0.1, "num_predict": 512}
    assert [m["role"] for m in request["messages"]] == ["system", "user", "assistant", "user"]
    assert request["messages"][-1]["content"].endswith(f"Question: {LEAVE_QUESTION}\n{ANSWER_CUE}")
    assert len(prompt_sources(request["messages"][-1]["content"])) == sample_kb.settings.answer_candidates
    assert answer.to_json()["citations"][0]["page"] == 3


def test_unanswerable_question_is_refused_by_the_gate_without_calling_the_model(
    sample_kb: KnowledgeBase, ollama_server: OllamaProtocolServer
) -> None:
    answer = service(sample_kb, generator_for(ollama_server.url)).answer(STOCK_QUESTION)
    assert answer.refused is True
    assert answer.answer == REFUSAL
    assert answer.refusal_reason is not None
    assert answer.refusal_reason.startswith("the closest passage (")
    assert "similarity 0." in answer.refusal_reason and "RAG_MIN_RELEVANCE is 0.42" in answer.refusal_reason
    assert (answer.citations, answer.grounded, answer.model) == ([], False, None)
    assert set(answer.timings) == {"retrieval_ms", "total_ms"}
    assert chats(ollama_server) == []


def test_the_gate_threshold_comes_from_settings(
    sample_kb: KnowledgeBase, ollama_server: OllamaProtocolServer
) -> None:
    strict = service(
        sample_kb, generator_for(ollama_server.url), min_relevance=0.95, min_keyword_share=1.0
    ).answer(LEAVE_QUESTION)
    assert strict.refused is True
    assert strict.refusal_reason is not None
    assert "(RAG_MIN_RELEVANCE is 0.95)" in strict.refusal_reason
    assert "employee_handbook.pdf" in strict.refusal_reason  # what was closest
    assert chats(ollama_server) == []

    ollama_server.respond = lambda messages: REFUSAL
    lenient = service(sample_kb, generator_for(ollama_server.url), min_relevance=0.1).answer(STOCK_QUESTION)
    assert len(chats(ollama_server)) == 1  # past the gate, the model decides
    assert lenient.refused is True
    assert lenient.refusal_reason == "the model found no answer in the passages it was given"


@pytest.mark.parametrize(
    "reply",
    [REFUSAL, "I can\u2019t find this in the documents.", "I cannot find this in the documents", "  "],
)
def test_model_refusal_gives_a_refusal_without_citations(
    sample_kb: KnowledgeBase, ollama_server: OllamaProtocolServer, reply: str
) -> None:
    ollama_server.respond = lambda messages: reply
    answer = service(sample_kb, generator_for(ollama_server.url)).answer(LEAVE_QUESTION)
    assert answer.answer == REFUSAL
    assert answer.refused is True
    assert answer.refusal_reason == "the model found no answer in the passages it was given"
    assert (answer.citations, answer.grounded, answer.extractive) == ([], False, False)
    assert answer.model == "ollama:qwen2.5:14b"
    assert len(chats(ollama_server)) == 1


def test_answer_with_only_an_invalid_marker_is_not_grounded(
    sample_kb: KnowledgeBase, ollama_server: OllamaProtocolServer
) -> None:
    # 99 weeks is in no passage, so the unmarked claim cannot be matched to a source either.
    ollama_server.respond = lambda messages: "Employees get 99 weeks of paid family leave [9]."
    generator = generator_for(ollama_server.url)
    withheld = service(sample_kb, generator, answer_candidates=3).answer(LEAVE_QUESTION)
    (request,) = chats(ollama_server)
    assert sorted(prompt_sources(request["messages"][-1]["content"])) == [1, 2, 3]
    # By default (RAG_UNGROUNDED_ANSWERS=withhold) an answer no passage supports is not shown.
    assert (withheld.answer, withheld.refused, withheld.withheld) == (REFUSAL, True, True)
    assert withheld.citations == []
    assert withheld.unsupported == ["Employees get 99 weeks of paid family leave."]
    assert withheld.refusal_reason and "RAG_UNGROUNDED_ANSWERS=warn" in withheld.refusal_reason
    warn = service(sample_kb, generator, answer_candidates=3, ungrounded_answers="warn")
    shown = warn.answer(LEAVE_QUESTION)
    assert shown.answer == "Employees get 99 weeks of paid family leave."
    assert (shown.citations, shown.grounded, shown.refused, shown.withheld) == ([], False, False, False)


def test_claim_with_an_invalid_marker_is_matched_to_the_source_that_states_it(
    sample_kb: KnowledgeBase, ollama_server: OllamaProtocolServer
) -> None:
    ollama_server.respond = lambda messages: "Employees get 10 weeks of paid family leave [9]."
    answer = service(sample_kb, generator_for(ollama_server.url), answer_candidates=3).answer(LEAVE_QUESTION)
    assert answer.answer == "Employees get 10 weeks of paid family leave."
    (citation,) = answer.citations
    assert (citation.origin, Path(citation.source).name, citation.page) == (
        "matched",
        "employee_handbook.pdf",
        3,
    )
    assert citation.quote == LEAVE_SENTENCE
    assert answer.grounded is True


def test_without_an_llm_the_answer_is_the_cited_passages(sample_kb: KnowledgeBase) -> None:
    svc = service(sample_kb, None)
    answer = svc.answer(LEAVE_QUESTION)
    settings = sample_kb.settings
    expected = sample_kb.retriever().retrieve(
        LEAVE_QUESTION, settings.answer_candidates, settings.search_mode
    )
    shown = expected.hits[:3]

    notice = "No LLM is configured (RAG_LLM=none): these are the most relevant passages."
    assert (answer.extractive, answer.grounded, answer.refused, answer.model) == (True, True, False, None)
    assert [c.n for c in answer.citations] == [1, 2, 3]
    assert [c.chunk_id for c in answer.citations] == [h.chunk.chunk_id for h in shown]
    assert [c.score for c in answer.citations] == [h.score for h in shown]
    assert all(c.quote and c.quote in h.chunk.text for c, h in zip(answer.citations, shown, strict=True))
    assert answer.citations[0].quote == LEAVE_SENTENCE
    assert answer.answer.startswith(notice + "\n")
    assert answer.answer == "\n".join(
        [notice]
        + [f'[{c.n}] {source_label(h)}: "{c.quote}"' for c, h in zip(answer.citations, shown, strict=True)]
    )
    assert set(answer.timings) == {"retrieval_ms", "total_ms"}


def test_unreachable_llm_raises_unless_passages_are_an_accepted_fallback(sample_kb: KnowledgeBase) -> None:
    url = unreachable_url()
    svc = service(sample_kb, generator_for(url))
    with pytest.raises(LLMUnavailableError) as err:
        svc.answer(LEAVE_QUESTION)
    assert f"Ollama is not reachable at {url}" in err.value.message

    answer = svc.answer(LEAVE_QUESTION, fallback_to_passages=True)
    assert answer.extractive is True
    assert answer.answer.startswith(
        "No LLM is reachable, so here are the most relevant passages instead. "
        f"Ollama is not reachable at {url}: start it with `ollama serve`"
    )
    assert [c.n for c in answer.citations] == [1, 2, 3]
    assert answer.citations[0].quote == LEAVE_SENTENCE
    assert (
        "[1] employee_handbook.pdf, page 3, section: 5. Parental and family leave > Aldermoor Family Leave: "
        f'"{LEAVE_SENTENCE}"' in answer.answer
    )


def test_stream_broken_after_some_tokens_raises_even_with_the_fallback(
    sample_kb: KnowledgeBase, ollama_server: OllamaProtocolServer
) -> None:
    ollama_server.respond = lambda messages: "Employees get 10 weeks of paid family leave [1]."
    ollama_server.cut_stream_after = 2
    tokens: list[str] = []
    with pytest.raises(LLMUnavailableError):
        for event in service(sample_kb, generator_for(ollama_server.url)).stream(
            LEAVE_QUESTION, fallback_to_passages=True
        ):
            assert event.kind == "token"
            tokens.append(event.text)
    assert tokens == ["Employees", " get"]


def test_unreachable_llm_with_history_still_falls_back_to_passages(sample_kb: KnowledgeBase) -> None:
    history = [Message("user", "Hi"), Message("assistant", "Hello! Ask me about the handbook.")]
    answer = service(sample_kb, generator_for(unreachable_url())).answer(
        LEAVE_QUESTION, history, fallback_to_passages=True
    )
    assert answer.extractive is True


def test_history_is_condensed_into_a_standalone_question_for_retrieval(
    sample_kb: KnowledgeBase, ollama_server: OllamaProtocolServer
) -> None:
    standalone = "Within how many months must Aldermoor Family Leave be used after a birth or adoption?"
    history = [
        Message("user", "How much paid family leave do new parents get?"),
        Message("assistant", "New parents get 10 weeks of paid family leave [1]."),
        Message("user", "Can I split it up?"),
        Message("assistant", "Yes, in blocks of at least one full week [1]."),
    ]
    follow_up = "And by when do I have to use it?"
    answer_reply = citing("12 months", "It must be used within 12 months of the birth or adoption [{n}].")

    def respond(messages: list[dict[str, Any]]) -> str:
        if messages[0]["content"] == CONDENSE_PROMPT:
            return f"{standalone}\n(rewritten from the conversation)"
        return answer_reply(messages)

    ollama_server.respond = respond
    answer = service(sample_kb, generator_for(ollama_server.url)).answer(follow_up, history)

    condense, final = chats(ollama_server)
    assert condense["stream"] is False
    assert condense["options"]["num_predict"] == 128
    assert condense["messages"][0] == {"role": "system", "content": CONDENSE_PROMPT}
    condense_user = condense["messages"][1]["content"]
    for message in history:
        assert f"{message.role}: {message.content}" in condense_user
    assert condense_user.endswith(f"Last user question: {follow_up}")

    assert answer.question == standalone
    assert final["messages"][-1]["content"].endswith(f"Question: {standalone}\n{ANSWER_CUE}")
    n = number_of(final["messages"][-1]["content"], "12 months")
    assert answer.answer == f"It must be used within 12 months of the birth or adoption [{n}]."
    (citation,) = answer.citations
    assert (Path(citation.source).name, citation.page) == ("employee_handbook.pdf", 3)
    assert citation.quote == (
        "The leave can be taken in one block or in blocks of at least one full week, and must be used "
        "within 12 months of the birth or adoption."
    )
    assert "condense_ms" in answer.timings


def test_stream_yields_tokens_before_the_final_answer(
    sample_kb: KnowledgeBase, ollama_server: OllamaProtocolServer
) -> None:
    ollama_server.respond = citing("10 weeks", "Employees get 10 weeks of paid family leave [{n}].")
    events = list(service(sample_kb, generator_for(ollama_server.url)).stream(LEAVE_QUESTION))
    *tokens, last = events
    (request,) = chats(ollama_server)
    raw = ollama_server.respond(request["messages"])
    assert len(tokens) == len(raw.split()) >= 2
    assert all(e.kind == "token" and e.answer is None for e in tokens)
    assert "".join(e.text for e in tokens) == raw
    assert last.kind == "answer"
    assert isinstance(last.answer, Answer)
    assert last.answer.answer == raw
    assert last.answer.grounded is True


def test_reranker_reorders_the_passages_shown_to_the_model(
    sample_kb: KnowledgeBase, ollama_server: OllamaProtocolServer
) -> None:
    import torch

    # MiniLM is a bi-encoder: as a cross-encoder its scoring head is freshly initialised, so the scores are
    # meaningless but the calls are real. Seed it so a run is reproducible.
    reranker = CrossEncoderReranker(resolve_model_path("all-MiniLM-L6-v2"))
    settings = sample_kb.settings
    retrieved = sample_kb.retriever().retrieve(
        LEAVE_QUESTION, settings.answer_candidates, settings.search_mode
    )
    with torch.random.fork_rng():
        torch.manual_seed(0)
        reranked = reranker.rerank(LEAVE_QUESTION, retrieved.hits)
    assert sorted(h.chunk.chunk_id for h in reranked) == sorted(h.chunk.chunk_id for h in retrieved.hits)
    assert [h.score for h in reranked] == sorted((h.score for h in reranked), reverse=True)
    assert [h.chunk.chunk_id for h in reranked] != [h.chunk.chunk_id for h in retrieved.hits]

    ollama_server.respond = citing("10 weeks", "Employees get 10 weeks of paid family leave [{n}].")
    answer = service(sample_kb, generator_for(ollama_server.url), reranker).answer(LEAVE_QUESTION)

    (request,) = chats(ollama_server)
    shown = prompt_sources(request["messages"][-1]["content"])
    assert list(shown.values()) == [h.chunk.text.strip() for h in reranked]
    assert "rerank_ms" in answer.timings
    (citation,) = answer.citations
    hit = reranked[citation.n - 1]
    assert (citation.chunk_id, citation.score) == (hit.chunk.chunk_id, hit.score)
    assert "10 weeks" in citation.quote


def test_empty_question_is_an_input_error(sample_kb: KnowledgeBase) -> None:
    with pytest.raises(InputError) as err:
        service(sample_kb, None).answer("   ")
    assert err.value.message == "The question is empty."


def test_a_marker_on_a_passage_without_the_fact_is_moved_and_an_unsupported_claim_loses_its_marker(
    sample_kb: KnowledgeBase, ollama_server: OllamaProtocolServer
) -> None:
    def respond(messages: list[dict[str, Any]]) -> str:
        content = messages[-1]["content"]
        right = number_of(content, "10 weeks")
        wrong = next(n for n, text in prompt_sources(content).items() if "10 weeks" not in text)
        return (
            f"Employees get 10 weeks of paid family leave [{wrong}]. "
            f"Parents also receive 99 vacation days [{right}]."
        )

    ollama_server.respond = respond
    answer = service(sample_kb, generator_for(ollama_server.url)).answer(LEAVE_QUESTION)

    (request,) = chats(ollama_server)
    right = number_of(request["messages"][-1]["content"], "10 weeks")
    assert answer.answer == (
        f"Employees get 10 weeks of paid family leave [{right}]. Parents also receive 99 vacation days."
    )
    (citation,) = answer.citations
    assert (citation.n, citation.origin, citation.supported, citation.page) == (right, "moved", True, 3)
    assert citation.quote == LEAVE_SENTENCE
    assert answer.unsupported == ["Parents also receive 99 vacation days."]
    assert answer.grounded is True
    data = answer.to_json()
    assert data["unsupported"] == ["Parents also receive 99 vacation days."]
    assert (data["citations"][0]["origin"], data["citations"][0]["supported"]) == ("moved", True)
