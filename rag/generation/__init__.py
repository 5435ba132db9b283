"""Generators: Ollama native (default, Qwen 14B) and any OpenAI-compatible endpoint."""

from __future__ import annotations

from rag.config import Settings
from rag.errors import ConfigError
from rag.generation.base import Generator, Message

__all__ = ["Generator", "Message", "make_generator"]


def make_generator(settings: Settings) -> Generator | None:
    """The generator named by RAG_LLM, or None for `RAG_LLM=none` (extractive answers only)."""
    ref = settings.llm_ref
    if ref is None:
        return None
    model = ref.name
    if ref.kind == "ollama":
        from rag.generation.ollama import OllamaGenerator

        return OllamaGenerator(
            model,
            settings.ollama_host,
            num_ctx=settings.llm_context_tokens,
            temperature=settings.llm_temperature,
            keep_alive=settings.llm_keep_alive,
            timeout_s=settings.request_timeout_s,
        )
    if settings.llm_base_url is None:
        raise ConfigError(
            "RAG_LLM=openai:<model> needs RAG_LLM_BASE_URL, e.g. http://127.0.0.1:8080/v1 for llama.cpp."
        )
    from rag.generation.openai_compat import OpenAICompatibleGenerator

    return OpenAICompatibleGenerator(
        model,
        settings.llm_base_url,
        api_key=settings.llm_api_key.get_secret_value() if settings.llm_api_key else None,
        temperature=settings.llm_temperature,
        timeout_s=settings.request_timeout_s,
    )
