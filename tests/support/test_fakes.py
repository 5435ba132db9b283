"""The fakes keep the contracts the product relies on, or the fast tier would test nothing."""

from __future__ import annotations

from rag.generation.base import Message
from support.fakes import HashingEmbedder, ScriptedGenerator


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def test_hashing_embedder_is_deterministic_unit_length_and_likes_shared_words() -> None:
    embedder = HashingEmbedder()
    query = embedder.embed_query("annual leave days")
    near, far = embedder.embed_documents(["Employees get 25 days of annual leave.", "The VPN gateway."])
    assert embedder.embed_query("annual leave days") == query
    assert abs(cosine(query, query) - 1.0) < 1e-9
    assert cosine(query, near) > 0.3 > cosine(query, far)
    assert len(query) == embedder.dimension and embedder.documents_embedded == 2


def test_scripted_generator_streams_its_reply_and_keeps_the_prompt() -> None:
    generator = ScriptedGenerator(lambda messages: f"Echo: {messages[-1].content}")
    pieces = list(generator.stream([Message("user", "hello there")], 100))
    assert "".join(pieces) == "Echo: hello there" and len(pieces) == 3
    assert generator.prompts == [[Message("user", "hello there")]]
    assert generator.generate([Message("user", "x")], 1) == "Echo: "
