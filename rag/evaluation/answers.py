"""Answer quality with the configured LLM: refusals, citation precision, correctness.

- Refusal accuracy: unanswerable questions refused (and, the other side, answerable ones refused).
- Citation precision: of all citations on answered questions, the share whose cited chunk holds the
  evidence: it comes from a relevant document and, when the dataset gives a reference answer, its text
  contains that answer. A citation to the right file but the wrong passage does not count.
- Support precision: the same share, judged by the question's ``evidence`` span where the dataset has
  one (the chunk holds the span, or most of it when chunking split it across two chunks; whitespace,
  case and punctuation normalised), else by the reference answer as above.
- Outcomes per question type: answerable questions are answered with a supporting citation, answered
  without one, or refused; unanswerable ones are refused or answered.
- Quotes: every citation's quote must be copied verbatim from the chunk it cites.
- Answer correctness: the reference answer appears in the answer (numbers compared exactly, thousands
  separators ignored); for references without digits, a sentence of the answer that means the same
  (cosine >= SEMANTIC_MATCH with the evaluation's embedder) also counts.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from rag.answer import Answer, AnswerService
from rag.citations import strip_markers
from rag.embedding import Embedder
from rag.evaluation.dataset import EvalQuery
from rag.evaluation.evidence import holds_evidence
from rag.evaluation.index import Progress
from rag.types import Chunk

SEMANTIC_MATCH = 0.8
_THOUSANDS = re.compile(r"(?<=\d)[,\u00a0\u202f ](?=\d{3}(?:\D|$))")
_NOT_WORD = re.compile(r"[^0-9a-z]+")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).lower()
    text = _THOUSANDS.sub("", text)
    return " ".join(_NOT_WORD.sub(" ", text).split())


def contains_reference(text: str, reference: str) -> bool:
    """The reference's words appear in ``text`` as a run, after normalising both the same way."""
    wanted = normalise(reference)
    return bool(wanted) and f" {wanted} " in f" {normalise(text)} "


@dataclass(frozen=True, slots=True)
class AnswerJudge:
    """Decides whether an answer and its citations are right; holds what it needs to look things up."""

    embedder: Embedder
    chunk_of: Callable[[str], Chunk | None]
    key_of: Callable[[Chunk], str]

    def citation_holds_evidence(self, chunk: Chunk | None, query: EvalQuery) -> tuple[bool, bool]:
        """(from a relevant document, and holds the reference answer where there is one)."""
        if chunk is None:
            return False, False
        relevant = self.key_of(chunk) in query.relevant
        if query.reference is None:
            return relevant, relevant
        return relevant, relevant and contains_reference(chunk.text, query.reference)

    def citation_supports(self, chunk: Chunk | None, query: EvalQuery) -> bool:
        """The cited chunk is from a relevant document and holds the question's evidence span (or most
        of it), or, where the dataset gives no evidence, what ``citation_holds_evidence`` asks."""
        if chunk is None or self.key_of(chunk) not in query.relevant:
            return False
        if query.evidence is not None:
            return holds_evidence(chunk.text, query.evidence)
        return self.citation_holds_evidence(chunk, query)[1]

    def correctness(self, answer: str, reference: str) -> str | None:
        """'string' or 'semantic' for how the answer matched the reference, None when it did not."""
        text = strip_markers(answer)
        if contains_reference(text, reference):
            return "string"
        if any(ch.isdigit() for ch in reference):
            return None  # embeddings barely tell 10 weeks from 12 weeks: numbers must match exactly
        sentences = [s for s in _SENTENCE_END.split(text) if s.strip()]
        if not sentences:
            return None
        target = self.embedder.embed_documents([reference])[0]
        vectors = self.embedder.embed_documents(sentences)
        return "semantic" if max(_cosine(target, v) for v in vectors) >= SEMANTIC_MATCH else None


def evaluate_answers(
    service: AnswerService,
    queries: Sequence[EvalQuery],
    judge: AnswerJudge,
    on_progress: Progress | None = None,
) -> dict[str, Any]:
    rows = []
    for done, query in enumerate(queries, start=1):
        rows.append(_judge_one(query, service.answer(query.text), judge))
        if on_progress:
            on_progress(done, len(queries), query.id)
    return {"available": True, **summarise(rows), "per_question": rows}


def _judge_one(query: EvalQuery, answer: Answer, judge: AnswerJudge) -> dict[str, Any]:
    citations = []
    for citation in answer.citations:
        chunk = judge.chunk_of(citation.chunk_id)
        relevant, evidence = judge.citation_holds_evidence(chunk, query)
        citations.append(
            {
                "document": judge.key_of(chunk) if chunk else citation.source,
                "page": citation.page,
                "origin": citation.origin,
                "supported": citation.supported,  # the pipeline's own check
                "relevant_document": relevant,
                "holds_evidence": evidence,
                "supports_answer": judge.citation_supports(chunk, query),  # the judge's
                "quote_verbatim": chunk is not None and bool(citation.quote) and citation.quote in chunk.text,
            }
        )
    match = None
    if query.reference is not None and not answer.refused:
        match = judge.correctness(answer.answer, query.reference)
    return {
        "id": query.id,
        "kind": query.kind or ("unanswerable" if query.unanswerable else "answerable"),
        "unanswerable": query.unanswerable,
        "refused": answer.refused,
        "withheld": answer.withheld,  # refused after the model answered: no shown passage supports it
        "grounded": answer.grounded,
        "correct": match is not None if query.reference is not None else None,
        "match": match,
        "answer": answer.answer,
        "reference": query.reference,
        "citations": citations,
        "unsupported": list(answer.unsupported),
        "timings": answer.timings,
    }


def summarise(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    answerable = [r for r in rows if not r["unanswerable"]]
    unanswerable = [r for r in rows if r["unanswerable"]]
    answered = [r for r in answerable if not r["refused"]]
    citations = [c for r in answered for c in r["citations"]]
    with_reference = [r for r in answerable if r["reference"] is not None]
    first_token = [r["timings"]["first_token_ms"] for r in rows if "first_token_ms" in r["timings"]]
    return {
        "questions": len(rows),
        "refusal_accuracy": _ratio(sum(r["refused"] for r in unanswerable), len(unanswerable)),
        "false_refusal_rate": _ratio(sum(r["refused"] for r in answerable), len(answerable)),
        "citation_precision": _ratio(sum(c["holds_evidence"] for c in citations), len(citations)),
        "support_precision": _ratio(sum(c["supports_answer"] for c in citations), len(citations)),
        "citation_document_precision": _ratio(sum(c["relevant_document"] for c in citations), len(citations)),
        "cited_relevant_document_rate": _ratio(
            sum(any(c["relevant_document"] for c in r["citations"]) for r in answered), len(answerable)
        ),
        "answer_correctness": _ratio(sum(bool(r["correct"]) for r in with_reference), len(with_reference)),
        "answer_correctness_string_only": _ratio(
            sum(r["match"] == "string" for r in with_reference), len(with_reference)
        ),
        "quotes_verbatim": _ratio(sum(c["quote_verbatim"] for c in citations), len(citations)),
        "grounded_rate": _ratio(sum(r["grounded"] for r in answered), len(answered)),
        "citations": len(citations),
        "citations_moved": sum(c["origin"] == "moved" for c in citations),
        "unsupported_sentences": sum(len(r["unsupported"]) for r in answered),
        "withheld_answerable": sum(bool(r.get("withheld")) for r in answerable),
        "withheld_unanswerable": sum(bool(r.get("withheld")) for r in unanswerable),
        "median_first_token_ms": sorted(first_token)[len(first_token) // 2] if first_token else None,
        "outcomes": outcomes(rows),
    }


def outcome(row: dict[str, Any]) -> str:
    """Where one question lands in the confusion matrix."""
    if row["unanswerable"]:
        return "refused" if row["refused"] else "answered"
    if row["refused"]:
        return "refused"
    supported = any(c["supports_answer"] for c in row["citations"])
    return "answered_supported" if supported else "answered_unsupported"


def outcomes(rows: Sequence[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """Confusion matrix per question type: answerable types count answered with a supporting citation,
    answered without one, and refused; unanswerable ones count refused and answered."""
    matrix: dict[str, dict[str, int]] = {}
    for row in rows:
        kind = row["kind"]
        if row["unanswerable"] and kind != "unanswerable":
            kind = f"{kind} (unanswerable)"
        cells = (
            ("refused", "answered")
            if row["unanswerable"]
            else ("answered_supported", "answered_unsupported", "refused")
        )
        counts = matrix.setdefault(kind, {"questions": 0} | dict.fromkeys(cells, 0))
        counts["questions"] += 1
        counts[outcome(row)] += 1
    return dict(sorted(matrix.items(), key=lambda item: (item[0] == "unanswerable", item[0])))


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _cosine(a: Sequence[float], b: Sequence[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0
