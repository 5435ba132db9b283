"""Map the model's [n] markers to the sources it was shown, with a quote that is really in the source."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rag.prompt import REFUSAL
from rag.types import Hit

_MARKER = re.compile(r"\[(\d+(?:\s*[,;]\s*\d+)*)\]")
_TRAILING_MARKERS = re.compile(r"([.!?])((?:\s*\[\d+(?:\s*[,;]\s*\d+)*\])+)")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
_WORD = re.compile(r"[a-z0-9]+(?:[.,:/-][a-z0-9]+)*")
_QUOTE_LIMIT = 300
_REFUSAL_PATTERNS = (
    "can't find this in the documents",
    "cannot find this in the documents",
    "can not find this in the documents",
    "not in the documents",
    "the sources do not contain",
    "the documents do not contain",
    "no information about this in the",
)


@dataclass(frozen=True, slots=True)
class Citation:
    n: int
    source: str
    page: int | None
    section: str | None
    quote: str
    score: float
    doc_id: str
    chunk_id: str
    # "model": the model wrote the [n]; "matched": the model wrote a sentence without a marker and we
    # found the source that states it (all its numbers and most of its words), so the claim is checkable.
    origin: str = "model"


@dataclass(frozen=True, slots=True)
class CitedText:
    text: str
    citations: list[Citation]
    dropped_markers: list[int]  # numbers that pointed at no source


def strip_markers(text: str) -> str:
    return _MARKER.sub("", text)


def is_refusal(answer: str) -> bool:
    text = " ".join(answer.lower().replace("\u2019", "'").split())
    return REFUSAL.lower() in text or any(p in text for p in _REFUSAL_PATTERNS)


def cite(answer: str, sources: Sequence[Hit]) -> CitedText:
    """Resolve markers against ``sources`` (numbered from 1). Markers that point at no source are
    removed from the text; every kept citation quotes a span found verbatim in its source chunk."""
    dropped: list[int] = []
    claims: dict[int, list[str]] = {}

    def keep_valid(match: re.Match[str]) -> str:
        numbers = [int(n) for n in re.split(r"\s*[,;]\s*", match.group(1))]
        valid = [n for n in numbers if 1 <= n <= len(sources)]
        dropped.extend(n for n in numbers if n not in valid)
        return "".join(f"[{n}]" for n in valid)

    # "... 3 days. [1]" cites the sentence before the marker: move the marker inside it.
    text = _TRAILING_MARKERS.sub(lambda m: " " + m.group(2).strip() + m.group(1), answer)
    text = _MARKER.sub(keep_valid, text)
    text = re.sub(r"[ \t]+([.,;:!?])", r"\1", text)
    text = re.sub(r"[ \t]{2,}", " ", text).strip()
    for sentence in _sentences(text):
        markers = list(_MARKER.finditer(sentence))
        claim = _MARKER.sub("", sentence)
        if not markers:
            n = _supporting_source(claim, sources)
            if n is not None:
                claims.setdefault(n, []).append(claim)
        for match in markers:
            for n in (int(x) for x in re.findall(r"\d+", match.group(1))):
                claims.setdefault(n, []).append(claim)
    model_cited = {int(n) for n in re.findall(r"\[(\d+)\]", text)}
    citations = []
    for n in sorted(claims):
        hit = sources[n - 1]
        chunk = hit.chunk
        citations.append(
            Citation(
                n=n,
                source=chunk.source,
                page=chunk.page,
                section=chunk.section,
                quote=best_quote(chunk.text, " ".join(claims[n])),
                score=hit.score,
                doc_id=chunk.doc_id,
                chunk_id=chunk.chunk_id,
                origin="model" if n in model_cited else "matched",
            )
        )
    return CitedText(text=text, citations=citations, dropped_markers=sorted(set(dropped)))


def _content_words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if len(w) > 3 or any(c.isdigit() for c in w)}


def _supporting_source(claim: str, sources: Sequence[Hit]) -> int | None:
    """The source that states an unmarked sentence: it must contain every number of the sentence and
    at least 60% of its content words. None when no source clearly does."""
    words = _content_words(claim)
    numbers = {w for w in words if any(c.isdigit() for c in w)}
    if len(words) < 3:
        return None
    best, best_share = None, 0.0
    for n, hit in enumerate(sources, start=1):
        source_words = _content_words(hit.chunk.text + " " + (hit.chunk.section or ""))
        if not numbers <= source_words:
            continue
        share = len(words & source_words) / len(words)
        if share > best_share:
            best, best_share = n, share
    return best if best_share >= 0.6 else None


def best_quote(source_text: str, claim: str) -> str:
    """The sentence (or line) of the source that shares most words with the claim, cut to a readable
    length. Always a verbatim substring of ``source_text``."""
    claim_words = set(_WORD.findall(claim.lower()))
    best, best_score = "", -1.0
    for candidate in _sentences(source_text):
        words = set(_WORD.findall(candidate.lower()))
        if not words:
            continue
        overlap = len(words & claim_words)
        # Numbers are what users check; weigh them up.
        overlap += sum(1 for w in words & claim_words if any(c.isdigit() for c in w))
        score = overlap + 0.001 * min(len(words), 40)  # ties go to the fuller sentence
        if score > best_score:
            best, best_score = candidate, score
    quote = best.strip() or source_text.strip()
    if len(quote) > _QUOTE_LIMIT:
        quote = quote[:_QUOTE_LIMIT].rsplit(" ", 1)[0]
    assert quote in source_text
    return quote


def _sentences(text: str) -> list[str]:
    return [s for s in _SENTENCE_END.split(text) if s.strip()]
