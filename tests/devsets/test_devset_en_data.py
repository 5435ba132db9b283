"""The English dev set is sound: every evidence span occurs exactly once, inside its source; the set is
as large and as varied as the issue asks (files, text, formats, question types, held-out split)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]
DEVSET = ROOT / "tests" / "devsets" / "en"


def _checker() -> ModuleType:
    spec = importlib.util.spec_from_file_location("devset_check", ROOT / "scripts" / "devset" / "check.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_evidence_span_occurs_exactly_once_in_its_source_and_the_set_is_big_enough() -> None:
    problems, stats = _checker().check(DEVSET)
    assert problems == []
    assert stats["files"] >= 60 and stats["text_chars"] >= 2_000_000
    assert set(stats["files_by_type"]) == {".html", ".pdf", ".txt"}
    by_type = stats["questions_by_type"]
    assert sum(by_type.values()) - by_type["unanswerable"] >= 100
    assert by_type["unanswerable"] >= 15
    assert min(by_type.values()) >= 15  # paraphrase, keyword, pdf, table, multi-sentence, unanswerable
    assert stats["questions_by_split"]["test"] >= 0.25 * stats["questions"]
