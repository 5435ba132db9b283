"""The in-process sentence-transformers embedder with the packaged quick-start model."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from rag.embedding.local import SentenceTransformerEmbedder, resolve_model_path
from rag.errors import ModelNotFoundError


def _cos(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True)) / math.sqrt(
        sum(x * x for x in a) * sum(y * y for y in b)
    )


def test_packaged_model_embeds_meaningfully(minilm: SentenceTransformerEmbedder) -> None:
    assert minilm.name == "sentence-transformers:all-MiniLM-L6-v2"
    assert (minilm.dimension, minilm.max_tokens) == (384, 256)
    docs = minilm.embed_documents(
        ["Employees get 25 days of paid vacation.", "The server room is on floor 3."]
    )
    query = minilm.embed_query("How much holiday do I get?")
    assert _cos(query, docs[0]) > _cos(query, docs[1]) + 0.2


def test_nomic_models_get_task_prefixes(minilm: SentenceTransformerEmbedder, tmp_path: Path) -> None:
    # Any local model whose name says nomic gets the prefixes; the packaged weights stand in for it.
    alias = tmp_path / "nomic-embed-text-v1.5"
    alias.symlink_to(resolve_model_path("all-MiniLM-L6-v2"), target_is_directory=True)
    nomic = SentenceTransformerEmbedder(str(alias))
    text = "refund policy"
    assert nomic.embed_query(text) == pytest.approx(
        minilm.embed_documents(["search_query: " + text])[0], abs=1e-5
    )
    assert nomic.embed_documents([text])[0] == pytest.approx(
        minilm.embed_documents(["search_document: " + text])[0], abs=1e-5
    )
    assert minilm.embed_query(text) == pytest.approx(minilm.embed_documents([text])[0], abs=1e-5)


def test_hub_names_are_refused_instead_of_downloaded() -> None:
    with pytest.raises(ModelNotFoundError) as err:
        SentenceTransformerEmbedder("BAAI/bge-small-en-v1.5").embed_query("x")
    assert "never downloads" in err.value.message


def test_token_count_uses_the_models_wordpiece_tokenizer(minilm: SentenceTransformerEmbedder) -> None:
    # Rare words and codes split into several pieces: counting words would undercount them.
    assert minilm.count_tokens("refund policy") == 3
    assert minilm.count_tokens("HX-200 costs 1450 EUR.") == 10


def test_concurrent_queries_get_the_vectors_they_would_get_alone(minilm: SentenceTransformerEmbedder) -> None:
    from concurrent.futures import ThreadPoolExecutor

    questions = [f"How many vacation days do I get in year {n}?" for n in range(24)]
    alone = [minilm.embed_documents([q])[0] for q in questions]  # no prefixes for MiniLM: same text
    with ThreadPoolExecutor(12) as pool:
        together = list(pool.map(minilm.embed_query, questions))
    for mine, reference in zip(together, alone, strict=True):
        assert _cos(mine, reference) > 0.9999


def test_a_failing_batch_fails_every_waiting_query_and_the_next_one_works() -> None:
    from rag.embedding.local import _QueryBatcher

    calls: list[list[str]] = []

    def encode(texts: list[str]) -> list[list[float]]:
        calls.append(texts)
        if "boom" in texts:
            raise RuntimeError("model crashed")
        return [[float(len(t))] for t in texts]

    batcher = _QueryBatcher(encode, max_batch=8)
    with pytest.raises(RuntimeError, match="model crashed"):
        batcher.embed("boom")
    assert batcher.embed("four") == [4.0]
    assert calls == [["boom"], ["four"]]
