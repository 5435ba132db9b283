"""Tiny in-process stand-ins for the fast test tier (`pytest -m "not slow"`), which loads no model.

They implement the product's own interfaces for real: a feature-hashing embedder whose vectors make
texts that share words similar, and a generator that replies from a script. Tests of *what a model
does* use the real ones (MiniLM, Qwen2.5-0.5B) and are marked slow.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable, Iterator, Sequence

from rag.embedding.base import Vector
from rag.generation.base import Message

_WORD = re.compile(r"\w+")


class HashingEmbedder:
    """Bag of words hashed into ``dimension`` buckets, L2-normalised: cosine = shared vocabulary."""

    def __init__(self, dimension: int = 256) -> None:
        self._dimension = dimension
        self.documents_embedded = 0

    @property
    def name(self) -> str:
        return f"hashing:{self._dimension}"

    @property
    def dimension(self) -> int:
        return self._dimension

    @property
    def max_tokens(self) -> int:
        return 512

    def count_tokens(self, text: str) -> int:
        return len(_WORD.findall(text))

    def embed_documents(self, texts: Sequence[str]) -> list[Vector]:
        self.documents_embedded += len(texts)
        return [self._embed(text) for text in texts]

    def embed_query(self, text: str) -> Vector:
        return self._embed(text)

    def close(self) -> None:
        return None

    def _embed(self, text: str) -> Vector:
        vector = [0.0] * self._dimension
        for word in _WORD.findall(text.lower()):
            bucket = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=4).digest(), "big")
            vector[bucket % self._dimension] += 1.0
        norm = math.sqrt(sum(v * v for v in vector)) or 1.0
        return [v / norm for v in vector]


Reply = Callable[[Sequence[Message]], str]


class ScriptedGenerator:
    """Replies with ``reply(messages)``, streamed word by word; records every prompt it was given."""

    def __init__(self, reply: Reply, name: str = "scripted:test") -> None:
        self._reply = reply
        self._name = name
        self.prompts: list[list[Message]] = []

    @property
    def name(self) -> str:
        return self._name

    def generate(self, messages: Sequence[Message], max_tokens: int) -> str:
        return "".join(self.stream(messages, max_tokens))

    def stream(self, messages: Sequence[Message], max_tokens: int) -> Iterator[str]:
        self.prompts.append(list(messages))
        words = re.findall(r"\S+\s*", self._reply(messages))
        yield from words[:max_tokens]

    def check(self) -> None:
        return None

    def close(self) -> None:
        return None
