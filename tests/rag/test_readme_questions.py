"""Every question the README and the quick start tell a new user to ask passes the relevance gate
with the quick-start embedder, and comes back with a citation (extractive, RAG_LLM=none)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rag.answer import AnswerService
from rag.gate import gate_for
from rag.knowledge_base import KnowledgeBase

ROOT = Path(__file__).resolve().parents[2]
_ASK = re.compile(r"rag ask (?:--passages-if-no-llm )?\"([^\"]+)\"")
_QUICKSTART_DEFAULT = re.compile(r'question="\$\{1:-([^}]+)\}"')
_CURL_QUESTION = re.compile(r'"question": "([^"]+)"')


def readme_questions() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    quickstart = (ROOT / "scripts" / "quickstart.sh").read_text(encoding="utf-8")
    found = [*_ASK.findall(readme), *_QUICKSTART_DEFAULT.findall(quickstart), *_CURL_QUESTION.findall(readme)]
    found += re.findall(r'quickstart\.sh "([^"]+)"', readme)
    # "And for adoption?" is a follow-up: it is asked with its history, tested in tests/rag/test_cli.py.
    return sorted({q for q in found if not q.startswith("And ")})


def test_the_readme_has_example_questions() -> None:
    assert len(readme_questions()) >= 4


@pytest.mark.slow
@pytest.mark.parametrize("question", readme_questions())
def test_readme_question_is_answered_with_a_citation(sample_kb: KnowledgeBase, question: str) -> None:
    settings = sample_kb.settings.model_copy(update={"llm": "none"})
    service = AnswerService(settings, sample_kb.retriever(), None, sample_kb.embedder.name)
    answer = service.answer(question)
    assert not answer.refused, (question, answer.refusal_reason, gate_for(settings, sample_kb.embedder.name))
    assert answer.citations
