"""Keyword (BM25) vectors from our own text analysis, the same in every store.

The engine computes IDF from its own statistics (sparse vectors with the IDF modifier); we give it
term frequencies already saturated and length-normalised the BM25 way, so a query's dot product with a
chunk is that chunk's BM25 score.

Analysis: NFKC and case folding; words of scripts written with spaces, minus English stop words and
stemmed (Snowball); identifiers and numbers kept whole as well as split into their parts (`max_wal_size`,
`ssh-keygen`, `4443`); runs of Han, Kana and Hangul as overlapping character bigrams (Lucene's CJK
analyzer), plus each whole Hangul word, so Korean particles and unsegmented Chinese or Japanese text
still match.
"""

from __future__ import annotations

import re
import unicodedata
import zlib
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

import snowballstemmer

# Stored with the index: a store built with another analysis must be rebuilt (`rag reindex`).
ANALYZER = "words-snowball-cjk2:v1"

# BM25 parameters: the usual k1 and b. AVERAGE_LENGTH is the typical chunk length in analysed terms:
# the engine does not know lengths, so the length normalisation is relative to this constant.
K1 = 1.2
B = 0.75
AVERAGE_LENGTH = 120

# Han, Hiragana, Katakana and Hangul: scripts written without spaces between words.
CJK_CHARACTERS = (
    "\u1100-\u11ff\u3040-\u30ff\u3130-\u318f\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\uff66-\uff9f"
)
CJK_CHARACTER = re.compile(f"[{CJK_CHARACTERS}]")
_HANGUL = re.compile("[\u1100-\u11ff\u3130-\u318f\uac00-\ud7af]")
# A compound (parts joined by _ - . / :) of letters and digits, or a run of CJK characters.
_TOKEN = re.compile(rf"[{CJK_CHARACTERS}]+|[^\W_{CJK_CHARACTERS}]+(?:[_\-.:/'][^\W_{CJK_CHARACTERS}]+)*")
_PARTS = re.compile(r"[_\-.:/']")

STOP_WORDS = frozenset(
    [
        "a",
        "about",
        "above",
        "after",
        "again",
        "against",
        "all",
        "am",
        "an",
        "and",
        "any",
        "are",
        "as",
        "at",
        "be",
        "because",
        "been",
        "before",
        "being",
        "below",
        "between",
        "both",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "doing",
        "down",
        "during",
        "each",
        "few",
        "for",
        "from",
        "further",
        "had",
        "has",
        "have",
        "having",
        "he",
        "her",
        "here",
        "hers",
        "herself",
        "him",
        "himself",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "itself",
        "just",
        "me",
        "more",
        "most",
        "my",
        "myself",
        "no",
        "nor",
        "not",
        "now",
        "of",
        "off",
        "on",
        "once",
        "only",
        "or",
        "other",
        "our",
        "ours",
        "ourselves",
        "out",
        "over",
        "own",
        "same",
        "she",
        "should",
        "so",
        "some",
        "such",
        "than",
        "that",
        "the",
        "their",
        "theirs",
        "them",
        "themselves",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "to",
        "too",
        "under",
        "until",
        "up",
        "very",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "yours",
        "yourself",
        "yourselves",
    ]
)

_stemmer = snowballstemmer.stemmer("english")


@dataclass(frozen=True, slots=True)
class SparseVector:
    indices: list[int]
    values: list[float]

    def __bool__(self) -> bool:
        return bool(self.indices)


@lru_cache(maxsize=200_000)
def _stem(word: str) -> str:
    return str(_stemmer.stemWord(word))


def _word_terms(word: str) -> list[str]:
    if word in STOP_WORDS:
        return []
    if not _PARTS.search(word):
        return [word if word.isdigit() else _stem(word)]
    # An identifier: the whole of it (exact matches rank first) and its parts (`wal` finds `max_wal_size`).
    parts = [p for p in _PARTS.split(word) if p and p not in STOP_WORDS]
    return [word, *(p if p.isdigit() else _stem(p) for p in parts)]


def _cjk_terms(run: str) -> list[str]:
    if len(run) == 1:
        return [run]
    terms = [run[i : i + 2] for i in range(len(run) - 1)]
    if _HANGUL.match(run):
        terms.append(run)  # the whole Korean word too: 게이트웨이는 also matches 게이트웨이 by its bigrams
    return terms


_LETTER = re.compile(r"[^\W\d_]")


def mostly_cjk(text: str) -> bool:
    """Whether at least half of the letters of ``text`` are Chinese, Japanese or Korean characters."""
    letters = len(_LETTER.findall(text))
    return letters > 0 and 2 * len(CJK_CHARACTER.findall(text)) >= letters


def analyze(text: str) -> list[str]:
    """The terms of ``text``, in order, repeated as often as they occur."""
    text = unicodedata.normalize("NFKC", text).casefold()
    terms: list[str] = []
    for match in _TOKEN.finditer(text):
        token = match.group(0).strip(".:/'-")
        if not token:
            continue
        if CJK_CHARACTER.match(token):
            terms.extend(_cjk_terms(token))
        else:
            terms.extend(_word_terms(token))
    return terms


def term_index(term: str) -> int:
    """A stable 32-bit id for a term (the engine's sparse indices are u32)."""
    return zlib.crc32(term.encode("utf-8"))


def encode_document(text: str) -> SparseVector:
    counts = Counter(analyze(text))
    length = sum(counts.values())
    norm = K1 * (1 - B + B * length / AVERAGE_LENGTH)
    return _vector({term: tf * (K1 + 1) / (tf + norm) for term, tf in counts.items()})


def encode_query(text: str) -> SparseVector:
    # Each distinct term once: a word repeated in a question is no more important for it.
    return _vector(dict.fromkeys(analyze(text), 1.0))


def _vector(weights: dict[str, float]) -> SparseVector:
    merged: dict[int, float] = {}
    for term, weight in weights.items():
        index = term_index(term)
        merged[index] = merged.get(index, 0.0) + weight  # a crc32 collision: rare, and harmless summed
    indices = sorted(merged)
    return SparseVector(indices, [merged[i] for i in indices])
