"""`rag eval` end to end through the CLI: the real ingest path, the real store and every mode."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from support.ollama_server import JSONDict, OllamaProtocolServer

from api.cli import cli

SAMPLE_DOCS = Path(__file__).resolve().parents[3] / "sample_docs"
MODES = ["dense", "bm25", "hybrid", "hybrid+rerank"]


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_sample_docs_reports_every_retrieval_mode_side_by_side(rag_env: Path) -> None:
    result = run("eval", str(SAMPLE_DOCS), "--json", "--no-answers", "--baseline")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["dataset"] | {"path": None} == {
        "path": None,
        "format": "questions",
        "documents": 18,
        "chunks": report["dataset"]["chunks"],
        "queries": 30,
        "judged_queries": 25,
        "unanswerable_queries": 5,
    }
    modes = report["retrieval"]
    variants = [m for m in modes if m.startswith("fusion: ")]
    engine = ["bm25, engine tokenizer (before)", "hybrid, engine tokenizer (before)"]
    assert list(modes) == [
        *MODES[:3],
        *variants,
        MODES[3],
        *engine,
        "naive baseline",
        "naive bm25 (rank-bm25)",
    ]
    assert len(variants) >= 6 and {"rrf", "dbsf"} <= {modes[v]["fusion"].split()[0] for v in variants}
    for mode in [*MODES[:3], *variants, *engine, "naive baseline"]:
        scores = modes[mode]
        assert scores["recall@1"] <= scores["recall@5"] <= scores["recall@10"]
        assert scores["recall@5"] >= 0.8, (mode, scores)
        assert 0 < scores["mrr@10"] <= 1 and 0 < scores["ndcg@10"] <= 1
    assert modes["hybrid"]["fusion"] == "dbsf w=1/0.5"
    assert "800-char windows" in modes["naive baseline"]["description"]
    rerank = modes["hybrid+rerank"]
    assert rerank["available"] is False and "RAG_RERANKER" in rerank["reason"]
    # The quick-start embedder's default gate lets every answerable sample question through to the LLM.
    gate = report["relevance_gate"]
    assert gate["current"]["false_refusal_rate"] == 0.0
    assert gate["suggested"]["false_refusal_rate"] <= 0.05
    assert report["answers"] == {"available": False, "reason": "skipped (--no-answers)"}
    assert len(report["per_query"]) == 25


def _write_small_dataset(root: Path) -> Path:
    docs = root / "kb"
    docs.mkdir()
    (docs / "leave.md").write_text(
        "# Family leave\n\nAldermoor gives 10 weeks of fully paid family leave on top of statutory leave.\n"
    )
    (docs / "prices.csv").write_text("product,list price\nKite Gateway G5,1690\nKite Sensor S2,240\n")
    (docs / "travel.txt").write_text("Travel policy. The hotel budget is 180 euros per night in Amsterdam.\n")
    questions = [
        {
            "id": "leave",
            "question": "How many weeks of paid family leave?",
            "source": "leave.md",
            "answer": "10 weeks",
        },
        {
            "id": "hotel",
            "question": "What is the hotel budget per night?",
            "source": "travel.txt",
            "answer": "180 euros",
        },
        {"id": "ceo", "question": "Which football team does the CEO support?", "unanswerable": True},
    ]
    (docs / "questions.jsonl").write_text("".join(json.dumps(q) + "\n" for q in questions))
    return docs


def _quote_first_source(messages: list[JSONDict]) -> str:
    """Plays a faithful model: restates the first source's text and cites it."""
    prompt = str(messages[-1]["content"])
    match = re.search(r"^\[1\][^\n]*\n(.+?)(?:\n\n|\nQuestion:)", prompt, re.S | re.M)
    assert match, prompt
    return match.group(1).strip() + " [1]"


def test_with_an_llm_answers_are_judged_and_shown_in_the_table(
    rag_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = _write_small_dataset(tmp_path)
    with OllamaProtocolServer(respond=_quote_first_source) as ollama:
        monkeypatch.setenv("RAG_OLLAMA_HOST", ollama.url)
        report = json.loads(run("eval", str(docs), "--json").stdout)
        table = run("eval", str(docs)).stdout
    answers: dict[str, Any] = report["answers"]
    assert answers["available"] is True and answers["model"] == "ollama:qwen2.5:14b"
    by_id = {row["id"]: row for row in answers["per_question"]}
    assert by_id["ceo"]["refused"] is True
    assert by_id["leave"]["correct"] is True and by_id["leave"]["citations"][0]["holds_evidence"] is True
    assert answers["refusal_accuracy"] == 1.0
    assert answers["citation_precision"] == 1.0 and answers["answer_correctness"] == 1.0
    assert "unanswerable questions refused" in table and "citation precision" in table
    assert re.search(r"^hybrid\s+1\.000", table, re.M), table


def test_an_unreachable_llm_still_gives_the_retrieval_report(
    rag_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = _write_small_dataset(tmp_path)
    monkeypatch.setenv("RAG_OLLAMA_HOST", "http://127.0.0.1:9")
    result = run("eval", str(docs), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["retrieval"]["bm25"]["recall@1"] == 1.0
    assert report["answers"]["available"] is False and "127.0.0.1:9" in report["answers"]["reason"]


def _write_beir(root: Path) -> Path:
    root.mkdir()
    corpus = [
        {
            "_id": "d-tulip",
            "title": "Tulips",
            "text": "Tulip bulbs are planted in autumn, ten centimetres deep.",
        },
        {
            "_id": "d-kayak",
            "title": "Kayaks",
            "text": "A sea kayak is longer and narrower than a river kayak.",
        },
        {
            "_id": "d-bread",
            "title": "Sourdough",
            "text": "Sourdough bread rises with a starter of wild yeast.",
        },
        {"_id": "d-empty", "title": "Nothing", "text": ""},
    ]
    queries = [
        {"_id": "q1", "text": "When should tulip bulbs be planted?"},
        {"_id": "q2", "text": "How does a sea kayak differ from a river kayak?"},
        {"_id": "q3", "text": "What makes sourdough bread rise?"},
    ]
    (root / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in corpus))
    (root / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in queries))
    (root / "qrels").mkdir()
    (root / "qrels" / "test.tsv").write_text(
        "query-id\tcorpus-id\tscore\nq1\td-tulip\t1\nq2\td-kayak\t1\nq3\td-bread\t1\n"
    )
    return root


def test_beir_dataset_with_a_reranker_scores_the_fourth_mode(
    rag_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No cross-encoder weights ship offline: the packaged MiniLM as a CrossEncoder exercises the real
    # rerank path (its scores are meaningless, so only the wiring is asserted).
    monkeypatch.setenv("RAG_RERANKER", "all-MiniLM-L6-v2")
    monkeypatch.setenv("RAG_LLM", "none")
    report = json.loads(run("eval", str(_write_beir(tmp_path / "beir")), "--json").stdout)
    assert report["dataset"]["format"] == "beir" and report["dataset"]["documents"] == 4
    assert report["dataset"]["chunks"] == 3  # the empty document has nothing to index
    for mode in ("dense", "bm25", "hybrid"):
        assert report["retrieval"][mode]["recall@1"] == 1.0, mode
    rerank = report["retrieval"]["hybrid+rerank"]
    assert rerank["reranker"] == "all-MiniLM-L6-v2" and rerank["recall@10"] == 1.0
    assert rerank["ms_per_query"] >= report["retrieval"]["hybrid"]["ms_per_query"]
    assert report["relevance_gate"]["available"] is False
    assert report["answers"]["available"] is False and "RAG_LLM is none" in report["answers"]["reason"]


def test_a_folder_that_is_not_a_dataset_is_one_readable_error(rag_env: Path, tmp_path: Path) -> None:
    result = run("eval", str(tmp_path))
    assert result.exit_code == 1
    assert "is not an evaluation dataset" in result.stderr and "Traceback" not in result.output
