"""Answer a question from the documents in small steps: condense, retrieve (and rerank), gate,
generate, cite.

One pipeline for the CLI and the API. It streams events (tokens, then the finished answer) and
``answer()`` is the same pipeline, collected.
"""

from __future__ import annotations

import re
import time
from collections.abc import Generator as Generator_
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from rag.citations import Citation, best_quote, cite, is_refusal, strip_markers
from rag.config import Settings
from rag.errors import InputError, ServiceUnavailableError
from rag.gate import gate_for
from rag.generation.base import Generator, Message
from rag.prompt import REFUSAL, build_prompt, condense_messages, source_label
from rag.rerank import CrossEncoderReranker
from rag.retrieval import Retriever
from rag.tokens import approx_token_count
from rag.types import Chunk, Hit, SearchFilters

_EXTRACTIVE_PASSAGES = 3
WITHHELD_REASON = (
    "the model wrote an answer, but none of the passages it was shown supports any sentence of it, so it "
    "is not shown (RAG_UNGROUNDED_ANSWERS=warn shows such answers, marked as unsupported)"
)


@dataclass(slots=True)
class Answer:
    question: str
    answer: str
    citations: list[Citation] = field(default_factory=list)
    refused: bool = False
    refusal_reason: str | None = None
    grounded: bool = False  # at least one valid citation
    unsupported: list[str] = field(default_factory=list)  # cited sentences no shown passage supports
    extractive: bool = False  # passages shown without generated text
    # The model's answer was withheld (RAG_UNGROUNDED_ANSWERS=withhold): no shown passage supports any
    # of it. The answer is the refusal; the model's text is the one entry of ``unsupported``.
    withheld: bool = False
    model: str | None = None
    timings: dict[str, float] = field(default_factory=dict)
    # The passages the model was shown (or the ones shown without a model): for the audit trail,
    # which records what reached the prompt, cited or not. Not part of the answer's JSON.
    context: list[Chunk] = field(default_factory=list, repr=False)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        del data["context"]
        data["citations"] = [c.to_json() for c in self.citations]
        return data


@dataclass(frozen=True, slots=True)
class AnswerEvent:
    kind: Literal["token", "answer"]
    text: str = ""
    answer: Answer | None = None


@dataclass(frozen=True, slots=True)
class _Retrieved:
    hits: list[Hit]
    best_similarity: float | None


class _Clock:
    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.timings: dict[str, float] = {}

    def mark(self, name: str, since: float) -> float:
        now = time.perf_counter()
        self.timings[name] = round((now - since) * 1000, 1)
        return now

    def total(self) -> dict[str, float]:
        self.timings["total_ms"] = round((time.perf_counter() - self.start) * 1000, 1)
        return self.timings


class AnswerService:
    def __init__(
        self,
        settings: Settings,
        retriever: Retriever,
        generator: Generator | None,
        embedder_name: str,
        reranker: CrossEncoderReranker | None = None,
    ) -> None:
        self._settings = settings
        self._retriever = retriever
        self._generator = generator
        self._reranker = reranker
        self._gate = gate_for(settings, embedder_name)

    def answer(
        self,
        question: str,
        history: Sequence[Message] = (),
        filters: SearchFilters | None = None,
        *,
        top_k: int | None = None,
        fallback_to_passages: bool = False,
    ) -> Answer:
        events = self.stream(
            question, history, filters, top_k=top_k, fallback_to_passages=fallback_to_passages
        )
        for event in events:
            if event.answer is not None:
                return event.answer
        raise AssertionError("the answer stream ended without an answer")  # pragma: no cover

    def stream(
        self,
        question: str,
        history: Sequence[Message] = (),
        filters: SearchFilters | None = None,
        *,
        top_k: int | None = None,
        fallback_to_passages: bool = False,
    ) -> Iterator[AnswerEvent]:
        """Yield token events as the model writes, then one final event with the cited answer.

        ``top_k`` overrides how many passages are retrieved (RAG_ANSWER_CANDIDATES).
        ``fallback_to_passages`` (the quick start only) shows the passages, clearly labelled, when the
        LLM cannot be reached; otherwise an unreachable LLM raises.
        """
        question = question.strip()
        if not question:
            raise InputError("The question is empty.")
        clock = _Clock()
        standalone, llm_down = self._condense(question, history, fallback_to_passages, clock)
        found = self._retrieve(standalone, top_k, filters, clock)
        answer = self._refusal_or_passages(standalone, found, llm_down, clock)
        if answer is None:
            answer = yield from self._generate_and_cite(standalone, found, fallback_to_passages, clock)
        yield AnswerEvent("answer", answer=answer)

    # -- the steps, in order -------------------------------------------------------------------------

    def _condense(
        self, question: str, history: Sequence[Message], fallback: bool, clock: _Clock
    ) -> tuple[str, ServiceUnavailableError | None]:
        """A follow-up question rewritten to stand alone; with the LLM down (and ``fallback``), the
        question as asked and the reason."""
        if not history or self._generator is None:
            return question, None
        since = time.perf_counter()
        try:
            rewritten = self._generator.generate(condense_messages(history, question), 128).strip()
            return (rewritten.splitlines()[0].strip() if rewritten else question), None
        except ServiceUnavailableError as exc:
            if not fallback:
                raise
            return question, exc
        finally:
            clock.mark("condense_ms", since)

    def _retrieve(
        self, question: str, top_k: int | None, filters: SearchFilters | None, clock: _Clock
    ) -> _Retrieved:
        since = time.perf_counter()
        retrieval = self._retriever.retrieve(
            question, top_k or self._settings.answer_candidates, self._settings.search_mode, filters
        )
        since = clock.mark("retrieval_ms", since)
        hits = retrieval.hits
        if self._reranker is not None and hits:
            hits = self._reranker.rerank(question, hits)
            clock.mark("rerank_ms", since)
        return _Retrieved(hits, retrieval.best_similarity)

    def _refusal_or_passages(
        self, question: str, found: _Retrieved, llm_down: ServiceUnavailableError | None, clock: _Clock
    ) -> Answer | None:
        """The answer when no model is asked: the gate refuses, no LLM is configured, or it is down."""
        verdict = self._gate.decide(question, found.hits, found.best_similarity)
        if verdict.refuse:
            return Answer(
                question, REFUSAL, refused=True, refusal_reason=verdict.reason, timings=clock.total()
            )
        if self._generator is None:
            notice = "No LLM is configured (RAG_LLM=none): these are the most relevant passages."
            return self._extractive(question, found.hits, notice, clock)
        if llm_down is not None:
            return self._extractive(question, found.hits, _no_llm_notice(llm_down), clock)
        return None

    def _generate_and_cite(
        self, question: str, found: _Retrieved, fallback: bool, clock: _Clock
    ) -> Generator_[AnswerEvent, None, Answer]:
        """Stream the model's tokens as events; return the cited (or refused) answer."""
        assert self._generator is not None
        prompt = build_prompt(
            question,
            found.hits,
            context_tokens=self._settings.llm_context_tokens,
            answer_tokens=self._settings.llm_max_answer_tokens,
            count_tokens=approx_token_count,
        )
        pieces: list[str] = []
        since = time.perf_counter()
        try:
            for piece in self._generator.stream(prompt.messages, self._settings.llm_max_answer_tokens):
                if not pieces:
                    clock.timings["first_token_ms"] = round((time.perf_counter() - clock.start) * 1000, 1)
                pieces.append(piece)
                yield AnswerEvent("token", text=piece)
        except ServiceUnavailableError as exc:
            if not fallback or pieces:
                raise
            return self._extractive(question, found.hits, _no_llm_notice(exc), clock)
        clock.mark("generation_ms", since)
        return self._cite("".join(pieces).strip(), question, prompt.sources, clock)

    def _cite(self, text: str, question: str, sources: list[Hit], clock: _Clock) -> Answer:
        model = self._generator.name if self._generator else None
        if is_refusal(text) or not text:
            reason = "the model found no answer in the passages it was given"
            return Answer(
                question,
                REFUSAL,
                refused=True,
                refusal_reason=reason,
                model=model,
                timings=clock.total(),
                context=[hit.chunk for hit in sources],
            )
        cited = cite(text, sources)
        if not cited.citations and self._settings.ungrounded_answers == "withhold":
            return Answer(
                question,
                REFUSAL,
                refused=True,
                refusal_reason=WITHHELD_REASON,
                unsupported=[cited.text],
                withheld=True,
                model=model,
                timings=clock.total(),
                context=[hit.chunk for hit in sources],
            )
        if cited.citations and not re.search(r"[^\W\d_]{2}", strip_markers(cited.text)):
            # Small models sometimes answer with nothing but "[1]": show what they pointed at.
            pointed = [sources[c.n - 1] for c in cited.citations]
            notice = "The model pointed at these passages without writing an answer:"
            answer = self._extractive(question, pointed, notice, clock)
            answer.model = model
            return answer
        return Answer(
            question,
            cited.text,
            citations=cited.citations,
            grounded=bool(cited.citations),
            unsupported=cited.unsupported,
            model=model,
            timings=clock.total(),
            context=[hit.chunk for hit in sources],
        )

    def _extractive(self, question: str, hits: list[Hit], notice: str, clock: _Clock) -> Answer:
        shown = hits[:_EXTRACTIVE_PASSAGES]
        lines = [notice]
        citations = []
        for n, hit in enumerate(shown, start=1):
            quote = best_quote(hit.chunk.text, question)
            lines.append(f'[{n}] {source_label(hit)}: "{quote}"')
            c = hit.chunk
            citations.append(
                Citation(n, c.source, c.page, c.section, quote, hit.score, c.doc_id, c.chunk_id, ocr=c.ocr)
            )
        return Answer(
            question,
            "\n".join(lines),
            citations=citations,
            grounded=True,
            extractive=True,
            timings=clock.total(),
            context=[hit.chunk for hit in shown],
        )


def _no_llm_notice(exc: ServiceUnavailableError) -> str:
    return f"No LLM is reachable, so here are the most relevant passages instead. {exc.message}"
