"""The `rag` command line: its JSON shapes are a contract, its errors are one readable line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from support.documents import write_pdf
from support.hostile import SECRET, build, misplaced

from api.cli import cli


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    root = tmp_path / "docs"
    root.mkdir()
    (root / "travel.md").write_text(
        "# Travel\n\n## Flights\n\nBook flights at least 21 days before departure.\n"
    )
    write_pdf(
        root / "handbook.pdf",
        ["Welcome to the company.", "Sick leave\n\nReport sick leave to your manager before 9:00."],
    )
    # The bad inputs, each to be reported with a reason while the good files go in.
    (root / "empty.txt").write_bytes(b"")
    (root / "zero.md").write_bytes(b"")
    (root / "corrupt.pdf").write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 20)
    write_pdf(root / "locked.pdf", ["Secret salary bands."], password="hunter2")
    (root / "renamed.docx").write_bytes(bytes(range(256)) * 10)
    return root


def test_ingest_reports_bad_files_and_ingests_the_rest(rag_env: Path, docs: Path) -> None:
    result = run("ingest", str(docs), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert set(report) >= {"added", "updated", "unchanged", "removed", "failed"}
    assert (report["added"], report["updated"], report["unchanged"], report["removed"]) == (2, 0, 0, 0)
    reasons = {Path(f["path"]).name: f["error"] for f in report["failed"]}
    assert set(reasons) == {"empty.txt", "zero.md", "corrupt.pdf", "locked.pdf", "renamed.docx"}
    assert "empty" in reasons["empty.txt"] and "empty" in reasons["zero.md"]
    assert "password" in reasons["locked.pdf"]
    assert "not a valid Word" in reasons["renamed.docx"]
    assert "PDF" in reasons["corrupt.pdf"]
    assert all("Traceback" not in r for r in reasons.values())

    again = json.loads(run("ingest", str(docs), "--json").stdout)
    assert (again["added"], again["unchanged"], again["chunks_embedded"]) == (0, 2, 0)

    failed = json.loads(run("docs", "--failed", "--json").stdout)["failed"]
    assert {Path(f["source"]).name for f in failed} == set(reasons)


def test_search_json_contract_with_page_and_section(rag_env: Path, docs: Path) -> None:
    run("ingest", str(docs), "--json")
    result = run("search", "who do I tell when I am sick?", "--top-k", "2", "--json")
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["query"] == "who do I tell when I am sick?"
    top = body["hits"][0]
    assert set(top) == {"text", "source", "page", "section", "score", "doc_id", "chunk_id"}
    assert top["source"] == str((docs / "handbook.pdf").resolve())
    assert top["page"] == 2 and "manager" in top["text"]
    assert len(body["hits"]) == 2 and body["hits"][0]["score"] >= body["hits"][1]["score"]

    md_hit = json.loads(
        run("search", "flights booking", "--json", "--source", str(docs / "travel.md")).stdout
    )
    assert {h["source"] for h in md_hit["hits"]} == {str((docs / "travel.md").resolve())}
    assert md_hit["hits"][0]["section"] == "Travel > Flights"


def test_search_queries_file_writes_one_line_per_query(rag_env: Path, docs: Path, tmp_path: Path) -> None:
    run("ingest", str(docs), "--json")
    queries = tmp_path / "q.jsonl"
    queries.write_text(
        '{"id": "a", "query": "flight booking lead time"}\n\n{"id": 7, "query": "sick leave"}\n'
    )
    result = run("search", "--queries", str(queries), "--top-k", "1", "--json")
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["id"] for line in lines] == ["a", 7]
    assert Path(lines[0]["hits"][0]["source"]).name == "travel.md"
    assert Path(lines[1]["hits"][0]["source"]).name == "handbook.pdf"


def test_bad_queries_file_names_the_line(rag_env: Path, docs: Path, tmp_path: Path) -> None:
    run("ingest", str(docs / "travel.md"), "--json")
    queries = tmp_path / "q.jsonl"
    queries.write_text('{"id": "a", "query": "x"}\nnot json\n')
    result = run("search", "--queries", str(queries), "--json")
    assert result.exit_code == 1
    assert "Line 2 of the queries file" in result.stderr


def test_docs_and_rm(rag_env: Path, docs: Path) -> None:
    run("ingest", str(docs), "--json")
    listed = json.loads(run("docs", "--json").stdout)["documents"]
    assert {Path(d["source"]).name for d in listed} == {"travel.md", "handbook.pdf"}
    assert all(set(d) >= {"source", "hash", "chunks", "ingested_at"} and d["chunks"] > 0 for d in listed)

    removed = run("rm", str(docs / "travel.md"), "--json")
    assert json.loads(removed.stdout)["removed"] == str((docs / "travel.md").resolve())
    hits = json.loads(run("search", "flights", "--json").stdout)["hits"]
    assert all(Path(h["source"]).name != "travel.md" for h in hits)

    missing = run("rm", "nothing-like-this.pdf")
    assert missing.exit_code == 1 and "rag docs" in missing.stderr


def test_errors_are_one_line_with_an_exit_code(rag_env: Path, tmp_path: Path) -> None:
    result = run("ingest", str(tmp_path / "nope"), "--json")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: Nothing to ingest")
    assert "Traceback" not in result.output

    usage = run("search")
    assert usage.exit_code == 2 and "QUERY or --queries" in usage.stderr


def test_switching_embedder_refuses_with_reindex_hint(
    rag_env: Path, docs: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    run("ingest", str(docs / "travel.md"), "--json")
    alias = tmp_path / "nomic-like"
    from rag.embedding.local import resolve_model_path

    alias.symlink_to(resolve_model_path("all-MiniLM-L6-v2"), target_is_directory=True)
    monkeypatch.setenv("RAG_EMBEDDER", f"sentence-transformers:{alias}")
    result = run("search", "flights")
    assert result.exit_code == 1
    assert "built with sentence-transformers:all-MiniLM-L6-v2" in result.stderr
    assert "rag reindex" in result.stderr

    reindexed = run("reindex", "--yes", "--json")
    assert json.loads(reindexed.stdout)["added"] == 1
    assert run("search", "flights", "--json").exit_code == 0


def test_invalid_setting_is_reported_by_name(rag_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAG_CHUNK_TOKENS", "lots")
    result = run("search", "x")
    assert result.exit_code == 1
    assert "RAG_CHUNK_TOKENS" in result.stderr


def _leave_answer(messages: list[dict[str, str]]) -> str:
    import re

    user = messages[-1]["content"]
    block = next(b for b in user.split("\n\n") if "21 days" in b)
    n = re.match(r"\[(\d+)\]", block)
    assert n is not None
    return f"Book flights at least 21 days before departure [{n.group(1)}]."


def test_ask_json_through_ollama_with_citations_and_timings(
    rag_env: Path, docs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from support.ollama_server import OllamaProtocolServer

    run("ingest", str(docs), "--json")
    with OllamaProtocolServer(models=["qwen2.5:14b"], respond=_leave_answer) as server:
        monkeypatch.setenv("OLLAMA_HOST", server.url)
        monkeypatch.setenv("RAG_MIN_RELEVANCE", "0.1")
        result = run("ask", "How early must flights be booked?", "--json")
        assert result.exit_code == 0, result.output
        body = json.loads(result.stdout)
        assert body["answer"].startswith("Book flights at least 21 days before departure [")
        assert body["refused"] is False and body["grounded"] is True
        [citation] = body["citations"]
        assert Path(citation["source"]).name == "travel.md"
        assert citation["quote"] == "Book flights at least 21 days before departure."
        assert citation["section"] == "Travel > Flights"
        assert {"retrieval_ms", "first_token_ms", "generation_ms", "total_ms"} <= set(body["timings"])

        streamed = run("ask", "How early must flights be booked?", "--stream")
        assert streamed.exit_code == 0
        assert "Book flights at least 21 days before departure [" in streamed.stdout
        assert "Sources:" in streamed.stdout and "travel.md" in streamed.stdout


def test_ask_withholds_an_answer_no_passage_supports_and_a_stream_says_so(
    rag_env: Path, docs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from support.ollama_server import OllamaProtocolServer

    from rag.prompt import REFUSAL, WITHHELD_NOTICE

    run("ingest", str(docs), "--json")
    invented = "Flights are booked by carrier pigeon from Lisbon [1]."
    with OllamaProtocolServer(models=["qwen2.5:14b"], respond=lambda messages: invented) as server:
        monkeypatch.setenv("OLLAMA_HOST", server.url)
        monkeypatch.setenv("RAG_MIN_RELEVANCE", "0.1")
        body = json.loads(run("ask", "How early must flights be booked?", "--json").stdout)
        assert (body["answer"], body["refused"], body["withheld"]) == (REFUSAL, True, True)
        assert body["unsupported"] == ["Flights are booked by carrier pigeon from Lisbon."]
        streamed = run("ask", "How early must flights be booked?", "--stream")
        assert streamed.exit_code == 0
        assert streamed.stdout.startswith(invented) and streamed.stdout.rstrip().endswith(WITHHELD_NOTICE)
        assert "RAG_UNGROUNDED_ANSWERS=warn" in streamed.stderr
        monkeypatch.setenv("RAG_UNGROUNDED_ANSWERS", "warn")
        shown = run("ask", "How early must flights be booked?")
        assert shown.stdout.startswith("Flights are booked by carrier pigeon from Lisbon.")
        assert "cites no source" in shown.stderr


def test_ask_with_ollama_down_fails_with_the_fix_unless_passages_are_allowed(
    rag_env: Path, docs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    run("ingest", str(docs), "--json")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("OLLAMA_HOST", f"127.0.0.1:{port}")
    monkeypatch.setenv("RAG_MIN_RELEVANCE", "0.1")
    result = run("ask", "How early must flights be booked?", "--json")
    assert result.exit_code == 1
    assert result.stdout == ""  # nothing half-written
    assert f"127.0.0.1:{port}" in result.stderr and "ollama serve" in result.stderr

    fallback = run("ask", "How early must flights be booked?", "--passages-if-no-llm")
    assert fallback.exit_code == 0
    assert fallback.stdout.startswith("No LLM is reachable")
    assert "travel.md" in fallback.stdout and "21 days" in fallback.stdout


def test_ask_refuses_when_the_documents_do_not_say(
    rag_env: Path, docs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run("ingest", str(docs), "--json")
    monkeypatch.setenv("RAG_LLM", "none")
    body = json.loads(run("ask", "What is the share price of Tesla?", "--json").stdout)
    assert body["refused"] is True and body["citations"] == []
    assert body["answer"] == "I can't find this in the documents."
    assert "RAG_MIN_RELEVANCE" in body["refusal_reason"]


def test_ask_follow_up_with_a_history_file(
    rag_env: Path, docs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from support.ollama_server import OllamaProtocolServer

    run("ingest", str(docs), "--json")
    history = tmp_path / "chat.json"
    history.write_text(
        json.dumps(
            [
                {"role": "user", "content": "Tell me about flights."},
                {"role": "assistant", "content": "Flights need booking."},
            ]
        )
    )

    def respond(messages: list[dict[str, str]]) -> str:
        if "standalone" in messages[0]["content"]:
            return "How many days before departure must flights be booked?"
        return _leave_answer(messages)

    with OllamaProtocolServer(models=["qwen2.5:14b"], respond=respond) as server:
        monkeypatch.setenv("OLLAMA_HOST", server.url)
        monkeypatch.setenv("RAG_MIN_RELEVANCE", "0.1")
        body = json.loads(run("ask", "how early?", "--history", str(history), "--json").stdout)
    assert body["question"] == "How many days before departure must flights be booked?"
    assert "condense_ms" in body["timings"] and body["grounded"] is True

    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    result = run("ask", "x", "--history", str(bad))
    assert result.exit_code == 1 and "history file" in result.stderr


@pytest.mark.slow  # MiniLM embeds the corpus's valid documents
def test_one_rag_ingest_over_the_hostile_corpus(
    rag_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 13's must-show, through the command itself: one `rag ingest --json` over the generated
    corpus lands every case, no terminal escape from a file name reaches the terminal, and the secret
    outside the folder is not searchable."""
    for name, value in {
        "RAG_MAX_FILE_MB": "5",
        "RAG_MAX_FILE_CHUNKS": "500",
        "RAG_FILE_TIMEOUT_S": "10",
    }.items():
        monkeypatch.setenv(name, value)
    root = tmp_path / "corpus"
    cases = build(root, tmp_path / "private")

    result = run("ingest", str(root), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    failed = {f["path"]: f["error"] for f in report["failed"]}
    listed = json.loads(run("docs", "--json").stdout)["documents"]
    # MiniLM's chunks are smaller than the hashing embedder's: a huge case may meet the chunk limit.
    assert misplaced(cases, root, failed, {d["source"] for d in listed}, huge_may_meet_a_budget=True) == []

    shown = run("docs").output + run("docs", "--failed").output + run("ingest", str(root)).output
    assert "\x1b" not in shown and "\x07" not in shown and "\\x1b]0;pwned" in shown
    hits = json.loads(run("search", SECRET, "--top-k", "20", "--json").stdout)["hits"]
    assert not any("BLUEHERON" in hit["text"] for hit in hits)
