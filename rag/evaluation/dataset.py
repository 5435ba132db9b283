"""Labelled datasets for `rag eval`: a BEIR folder, or our own questions.jsonl next to the documents.

BEIR layout (what public retrieval benchmarks ship)::

    corpus.jsonl     {"_id": "d1", "title": "...", "text": "..."} per line
    queries.jsonl    {"_id": "q1", "text": "..."} per line
    qrels/test.tsv   query-id <TAB> corpus-id <TAB> score, with a header line

questions.jsonl (what `sample_docs/` ships), one question per line::

    {"id": "q01", "question": "...", "source": "employee_handbook.pdf", "answer": "10 weeks"}
    {"id": "q04", "question": "...", "unanswerable": true}

``source`` (or a ``sources`` list) names files relative to the documents folder (the folder of
questions.jsonl, or its ``docs/`` subfolder when there is one); ``answer`` is a short
reference answer for the correctness and evidence checks; unanswerable questions test refusals.
Optional fields (the real-document dev sets under tests/devsets/ carry them): ``evidence``, a verbatim
span of the source that holds the answer; ``type`` (paraphrase, keyword, pdf, table, multi-sentence,
unanswerable), for per-type reports; ``split`` (``dev`` to tune on, ``test`` held out for a final check).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from rag.errors import InputError

QUESTIONS_FILE = "questions.jsonl"
BEIR_SPLIT = "test"


@dataclass(frozen=True, slots=True)
class EvalQuery:
    id: str
    text: str
    relevant: dict[str, int] = field(default_factory=dict)  # document key -> relevance grade (> 0)
    reference: str | None = None  # a short expected answer, when the dataset has one
    unanswerable: bool = False
    evidence: str | None = None  # a verbatim span of the source that holds the answer
    kind: str = ""  # the question's type, for per-type reports ("" when the dataset has none)
    split: str = ""  # "dev" or "test" (held out), when the dataset has splits


@dataclass(frozen=True, slots=True)
class CorpusDocument:
    key: str
    title: str
    text: str


@dataclass(frozen=True, slots=True)
class EvalDataset:
    path: Path
    kind: Literal["questions", "beir"]
    queries: list[EvalQuery]
    documents_dir: Path | None = None  # the questions layout: files ingested like `rag ingest` does
    corpus_file: Path | None = None  # the BEIR layout: corpus.jsonl

    @property
    def judged(self) -> list[EvalQuery]:
        """Queries with relevance judgments: the ones retrieval metrics are computed on."""
        return [q for q in self.queries if q.relevant]

    def corpus(self) -> Iterator[CorpusDocument]:
        """The BEIR corpus, streamed (corpora run to millions of lines)."""
        if self.corpus_file is None:
            return
        for number, record in _jsonl(self.corpus_file):
            key = str(record.get("_id", "")).strip()
            text = str(record.get("text") or "")
            if not key:
                raise InputError(f'{self.corpus_file} line {number}: every document needs an "_id".')
            yield CorpusDocument(key, str(record.get("title") or ""), text)


def load_dataset(path: Path, documents: Path | None = None, split: str | None = None) -> EvalDataset:
    """Recognise the layout at ``path`` and read its queries and judgments (only ``split``'s, if given)."""
    path = path.expanduser()
    if not path.exists():
        raise InputError(f"{path} does not exist. Give a BEIR folder or a folder with {QUESTIONS_FILE}.")
    if path.is_dir() and (path / "corpus.jsonl").is_file():
        return _load_beir(path)
    questions = path / QUESTIONS_FILE if path.is_dir() else path
    if questions.is_file() and questions.suffix == ".jsonl":
        # The documents sit beside questions.jsonl (sample_docs/) or in a docs/ folder next to it (dev sets).
        beside = questions.parent / "docs" if (questions.parent / "docs").is_dir() else questions.parent
        docs = (documents or beside).expanduser()
        if not docs.is_dir():
            raise InputError(f"The documents folder {docs} does not exist (use --docs DIR).")
        queries = _load_questions(questions, docs)
        if split:
            queries = [q for q in queries if q.split == split]
            if not queries:
                raise InputError(f'{questions} has no questions in the split "{split}".')
        return EvalDataset(path, "questions", queries, documents_dir=docs.resolve())
    raise InputError(
        f"{path} is not an evaluation dataset. Give either a BEIR folder (corpus.jsonl, queries.jsonl, "
        f"qrels/{BEIR_SPLIT}.tsv) or a folder of documents with a {QUESTIONS_FILE} "
        '({"id", "question", "source", "answer"} per line), e.g. `rag eval sample_docs`.'
    )


def _load_questions(questions: Path, docs: Path) -> list[EvalQuery]:
    queries: list[EvalQuery] = []
    seen: set[str] = set()
    for number, record in _jsonl(questions):
        where = f"{questions} line {number}"
        text = str(record.get("question") or record.get("query") or "").strip()
        if not text:
            raise InputError(f'{where}: "question" is missing or empty.')
        qid = str(record.get("id") or f"line{number}")
        if qid in seen:
            raise InputError(f'{where}: the id "{qid}" is used twice.')
        seen.add(qid)
        unanswerable = bool(record.get("unanswerable", False))
        sources = record.get("sources", record.get("source")) or []
        names = [sources] if isinstance(sources, str) else [str(s) for s in sources]
        if not names and not unanswerable:
            raise InputError(f'{where}: give the "source" file that answers it, or "unanswerable": true.')
        for name in names:
            if not (docs / name).is_file():
                raise InputError(f'{where}: the source "{name}" is not a file in {docs}.')
        reference = record.get("answer")
        evidence = record.get("evidence")
        queries.append(
            EvalQuery(
                id=qid,
                text=text,
                relevant={Path(name).as_posix(): 1 for name in names},
                reference=str(reference) if reference not in (None, "") else None,
                unanswerable=unanswerable,
                evidence=str(evidence) if evidence else None,
                kind=str(record.get("type") or ""),
                split=str(record.get("split") or ""),
            )
        )
    if not queries:
        raise InputError(f"{questions} holds no questions.")
    return queries


def _load_beir(root: Path) -> EvalDataset:
    queries_file = root / "queries.jsonl"
    qrels_file = root / "qrels" / f"{BEIR_SPLIT}.tsv"
    for needed in (queries_file, qrels_file):
        if not needed.is_file():
            raise InputError(f"{root} looks like a BEIR folder but {needed.relative_to(root)} is missing.")
    judgments: dict[str, dict[str, int]] = {}
    with qrels_file.open(encoding="utf-8", newline="") as handle:
        for number, row in enumerate(csv.reader(handle, delimiter="\t"), start=1):
            if not row or (number == 1 and not row[-1].strip().lstrip("-").isdigit()):
                continue  # blank line or the header
            if len(row) < 3:
                raise InputError(f"{qrels_file} line {number}: expected query-id, corpus-id and score.")
            grade = int(row[2])
            if grade > 0:
                judgments.setdefault(row[0].strip(), {})[row[1].strip()] = grade
    queries = [
        EvalQuery(id=qid, text=str(record.get("text") or "").strip(), relevant=judgments[qid])
        for _, record in _jsonl(queries_file)
        if (qid := str(record.get("_id", "")).strip()) in judgments
    ]
    if not queries:
        raise InputError(f"None of the queries in {queries_file} has a judgment in {qrels_file}.")
    return EvalDataset(root, "beir", queries, corpus_file=root / "corpus.jsonl")


def _jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"{path} line {number} is not valid JSON ({exc.msg}).") from exc
            if not isinstance(record, dict):
                raise InputError(f"{path} line {number} must be a JSON object.")
            yield number, record
