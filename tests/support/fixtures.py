"""Pytest fixtures for the in-test Ollama server (register from a conftest or import)."""

from collections.abc import Iterator

import pytest

from .ollama_server import OllamaProtocolServer

FIXTURE_MODELS = ["nomic-embed-text:latest", "qwen2.5:14b"]


@pytest.fixture
def ollama_server() -> Iterator[OllamaProtocolServer]:
    """A started server with one embedding and one chat model already pulled."""
    with OllamaProtocolServer(models=FIXTURE_MODELS) as server:
        yield server
