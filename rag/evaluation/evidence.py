"""Does a passage hold a question's evidence span? The passage-level judgment of `rag eval`.

A dataset's ``evidence`` is copied verbatim from the source, but our parser and chunker may reflow it
(whitespace, a table's cells, a hyphen at a PDF line end) or split it across two chunks. So both sides
are normalised (case, punctuation, whitespace) and a passage holds the evidence when it contains it
whole, or at least ``SHARE`` of its word 4-grams (the larger part of a span that a chunk border cut).
Chinese, Japanese and Korean characters count as a word each: those scripts put no spaces between
words, so their evidence is matched by character 4-grams.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from rag.sparse import CJK_CHARACTER

SHARE = 0.5
_N = 4
_NOT_WORD = re.compile(r"[\W_]+")


@lru_cache(maxsize=4096)
def _words(text: str) -> tuple[str, ...]:
    text = _NOT_WORD.sub(" ", unicodedata.normalize("NFKC", text).casefold())
    return tuple(CJK_CHARACTER.sub(lambda m: f" {m.group()} ", text).split())


@lru_cache(maxsize=1024)
def _grams(evidence: str) -> frozenset[tuple[str, ...]]:
    words = _words(evidence)
    return frozenset(words[i : i + _N] for i in range(max(1, len(words) - _N + 1)))


def holds_evidence(passage: str, evidence: str) -> bool:
    wanted = _words(evidence)
    if not wanted:
        return False
    words = _words(passage)
    if f" {' '.join(wanted)} " in f" {' '.join(words)} ":
        return True
    grams = _grams(evidence)
    present = {words[i : i + _N] for i in range(max(1, len(words) - _N + 1))}
    return len(grams & present) >= SHARE * len(grams)
