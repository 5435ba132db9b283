"""Against the real servers in containers (testcontainers): a Qdrant server behind the store contract,
and an Ollama serving nomic-embed-text and a chat model behind our embedder and generator. Skipped, with
the reason, where no Docker engine is reachable (as on the development machines); run where one is."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from rag.embedding.ollama import OllamaEmbedder
from rag.generation.base import Message
from rag.generation.ollama import OllamaGenerator

OLLAMA_IMAGE = "ollama/ollama:0.12.0"  # the tag docker-compose.yml pins
EMBED_MODEL = "nomic-embed-text"
CHAT_MODEL = "qwen2.5:0.5b"  # the smallest Qwen: the same code path as qwen2.5:14b, minutes instead of hours


def _docker_or_skip() -> None:
    try:
        import docker

        docker.from_env().ping()
    except Exception as exc:
        pytest.skip(
            f"no Docker engine reachable ({exc.__class__.__name__}): the container tests run where one is"
        )


@pytest.fixture(scope="module")
def ollama_url() -> Iterator[str]:
    _docker_or_skip()
    from testcontainers.ollama import OllamaContainer

    container: Any = OllamaContainer(image=OLLAMA_IMAGE)
    with container:
        container.pull_model(EMBED_MODEL)
        container.pull_model(CHAT_MODEL)
        yield str(container.get_endpoint())


@pytest.mark.docker
def test_nomic_embeddings_from_a_real_ollama(ollama_url: str) -> None:
    embedder = OllamaEmbedder(EMBED_MODEL, ollama_url)
    docs = embedder.embed_documents(
        ["Employees get 27 days of paid leave.", "The server room is on floor 3."]
    )
    query = embedder.embed_query("How many vacation days do I get?")
    assert embedder.dimension == 768 and len(docs) == 2

    def cos(a: list[float], b: list[float]) -> float:
        norms = float(sum(x * x for x in a) ** 0.5) * float(sum(y * y for y in b) ** 0.5)
        return sum(x * y for x, y in zip(a, b, strict=True)) / norms

    assert cos(query, docs[0]) > cos(query, docs[1])


@pytest.mark.docker
def test_qwen_answers_and_streams_from_a_real_ollama(ollama_url: str) -> None:
    generator = OllamaGenerator(
        CHAT_MODEL, ollama_url, num_ctx=2048, temperature=0.0, keep_alive="5m", timeout_s=600
    )
    generator.check()
    messages = [Message("user", "Reply with the single word: yes")]
    assert generator.generate(messages, 8).strip()
    assert "".join(generator.stream(messages, 8)).strip()
