"""Does a passage hold a question's evidence span? The passage-level judgment of `rag eval`.

A dataset's ``evidence`` is copied verbatim from the source, but our parser and chunker may reflow it
(whitespace, a table's cells, a hyphen at a PDF line end) or split it across two chunks. So both sides
are normalised (case, punctuation, whitespace) and a passage holds the evidence when it contains it
whole, or at least ``SHARE`` of its word 4-grams (the larger part of a span that a chunk border cut).
Chinese, Japanese and Korean characters count as a word each: those scripts put no spaces between
words, so their evidence is matched by character 4-grams.

Tables differ most. The source's plain text runs a table's cells together ("12 bytestime of day"),
while the parser writes each row as "Header: value; Header: value" (ingest/parse.py, table_to_text),
so the same row reads differently on the two sides. A passage is therefore also read with those
header labels taken out, and the evidence also counts as whole when its letters, spaces aside, occur
in the passage's letters, spaces aside; from ``_MIN_JOINED`` letters on that is still the same text,
only cut into words differently.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from rag.sparse import CJK_CHARACTER

SHARE = 0.5
_N = 4
_MIN_JOINED = 30  # letters: below this, words run together could be a different text
_NOT_WORD = re.compile(r"[\W_]+")
# The "Header: " before each value of a table row as the parser writes it: at a line's start or after
# the "; " between two values.
_CELL_LABEL = re.compile(r"(?:^|(?<=; ))[^:;\n]{1,60}?: ", re.MULTILINE)


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
    if _whole(words, wanted):
        return True
    unlabelled = _CELL_LABEL.sub("", passage)
    # Only the whole span counts in a table read without its labels: its rows share most of their
    # words, so half the 4-grams of one row are often found in the next.
    if unlabelled != passage and _whole(_words(unlabelled), wanted):
        return True
    grams = _grams(evidence)
    present = {words[i : i + _N] for i in range(max(1, len(words) - _N + 1))}
    return len(grams & present) >= SHARE * len(grams)


def _whole(words: tuple[str, ...], wanted: tuple[str, ...]) -> bool:
    if f" {' '.join(wanted)} " in f" {' '.join(words)} ":
        return True
    joined = "".join(wanted)
    return len(joined) >= _MIN_JOINED and joined in "".join(words)
