"""Loading both dataset layouts, and a clear error for each way a dataset can be wrong."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.errors import InputError
from rag.evaluation.dataset import load_dataset

SAMPLE_DOCS = Path(__file__).resolve().parents[3] / "sample_docs"


def _write_jsonl(path: Path, records: list[dict[str, object]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")


def test_sample_docs_is_a_questions_dataset_with_answerable_and_unanswerable_questions() -> None:
    dataset = load_dataset(SAMPLE_DOCS)
    assert dataset.kind == "questions"
    assert dataset.documents_dir == SAMPLE_DOCS.resolve()
    assert len(dataset.queries) == 30 and len(dataset.judged) == 25
    first = dataset.queries[0]
    assert first.relevant == {"employee_handbook.pdf": 1} and first.reference == "10 weeks"
    assert {q.id for q in dataset.queries if q.unanswerable} == {"q04", "q10", "q15", "q21", "q27"}


def test_beir_layout_reads_graded_judgments_and_skips_unjudged_queries(tmp_path: Path) -> None:
    _write_jsonl(
        tmp_path / "corpus.jsonl", [{"_id": "d1", "title": "T", "text": "x"}, {"_id": "d2", "text": "y"}]
    )
    _write_jsonl(
        tmp_path / "queries.jsonl", [{"_id": "q1", "text": "first?"}, {"_id": "q2", "text": "other?"}]
    )
    (tmp_path / "qrels").mkdir()
    (tmp_path / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t2\nq1\td2\t0\n")
    dataset = load_dataset(tmp_path)
    assert dataset.kind == "beir"
    assert [(q.id, q.relevant) for q in dataset.queries] == [("q1", {"d1": 2})]  # grade 0 is not relevant
    assert [(d.key, d.title) for d in dataset.corpus()] == [("d1", "T"), ("d2", "")]


def test_questions_file_with_a_separate_documents_folder(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("alpha")
    _write_jsonl(tmp_path / "qs.jsonl", [{"question": "alpha?", "sources": ["a.txt"]}])
    dataset = load_dataset(tmp_path / "qs.jsonl", docs)
    assert dataset.queries[0].relevant == {"a.txt": 1} and dataset.queries[0].id == "line1"


@pytest.mark.parametrize(
    ("records", "message"),
    [
        ([{"id": "q1", "source": "a.txt"}], '"question" is missing'),
        ([{"id": "q1", "question": "x?"}], '"unanswerable": true'),
        ([{"id": "q1", "question": "x?", "source": "missing.pdf"}], '"missing.pdf" is not a file'),
        ([{"id": "q1", "question": "x?", "source": "a.txt"}] * 2, 'id "q1" is used twice'),
        ([], "holds no questions"),
    ],
)
def test_a_broken_questions_file_names_the_line_and_the_fix(
    tmp_path: Path, records: list[dict[str, object]], message: str
) -> None:
    (tmp_path / "a.txt").write_text("alpha")
    _write_jsonl(tmp_path / "questions.jsonl", records)
    with pytest.raises(InputError, match=message):
        load_dataset(tmp_path)


def test_not_a_dataset_explains_both_layouts(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"BEIR folder .* questions\.jsonl"):
        load_dataset(tmp_path)
    (tmp_path / "questions.jsonl").write_text("{not json\n")
    with pytest.raises(InputError, match="line 1 is not valid JSON"):
        load_dataset(tmp_path)


def test_beir_folder_without_judgments_says_which_file_is_missing(tmp_path: Path) -> None:
    _write_jsonl(tmp_path / "corpus.jsonl", [{"_id": "d1", "text": "x"}])
    _write_jsonl(tmp_path / "queries.jsonl", [{"_id": "q1", "text": "x?"}])
    with pytest.raises(InputError, match=r"qrels/test\.tsv is missing"):
        load_dataset(tmp_path)
