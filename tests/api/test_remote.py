"""While `rag serve` owns the data dir, `rag search`, `rag ask` and `rag docs` ask it over HTTP and print
what they print without it; a server that wants an API key the command lacks gets one line saying what
to set; commands that write are refused at once, naming the server."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from support.documents import write_pdf
from support.processes import free_port

from api.cli import cli
from api.server_file import SERVER_FILE


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@contextmanager
def served(data: Path, log: Path) -> Iterator[str]:
    """A real `rag serve` with this process's environment, until it has stopped on SIGTERM. Ready once
    it has named itself in the data dir."""
    with log.open("wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "api.cli", "serve", "--port", str(free_port())],
            env=dict(os.environ),
            stderr=out,
        )
    try:
        deadline = time.monotonic() + 180
        while not (data / SERVER_FILE).exists():
            assert server.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "rag serve did not come up"
            time.sleep(0.2)
        yield json.loads((data / SERVER_FILE).read_text())["url"]
        server.send_signal(signal.SIGTERM)
        server.wait(30)
        assert not (data / SERVER_FILE).exists()  # a clean stop takes its name back
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    root = tmp_path / "docs"
    root.mkdir()
    (root / "travel.md").write_text(
        "# Travel\n\n## Flights\n\nBook flights at least 21 days before departure.\n\n"
        "## Hotels\n\nHotels up to EUR 120 a night need no approval.\n"
    )
    write_pdf(
        root / "handbook.pdf",
        ["Welcome to the company.", "Sick leave\n\nReport sick leave to your manager before 9:00."],
    )
    (root / "empty.txt").write_bytes(b"")  # listed by `rag docs --failed`
    return root


def without_timings(output: str) -> str:
    return re.sub(r'"timings": \{[^}]*\}', '"timings": {}', output)


@pytest.mark.slow  # the server and the commands run without it load MiniLM
def test_search_ask_and_docs_print_the_same_through_a_running_server(
    rag_env: Path, docs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAG_LLM", "none")  # answers show the cited passages
    monkeypatch.setenv("RAG_API_KEYS", "team-key")  # the server wants it; the commands send it
    assert run("ingest", str(docs), "--json").exit_code == 0
    queries = tmp_path / "queries.jsonl"
    queries.write_text('{"id": "a", "query": "hotel approval"}\n{"id": 7, "query": "sick leave"}\n')
    question = "How early must flights be booked?"
    commands = [
        ("search", "who do I tell when I am sick?", "--json"),
        ("search", "flights", "--mode", "sparse", "-k", "1", "--source", str(docs / "travel.md"), "--json"),
        ("search", "--queries", str(queries), "-k", "2"),
        ("search", "who do I tell when I am sick?"),
        ("ask", question, "--json"),
        ("ask", question),
        ("ask", question, "--stream"),
        ("docs", "--json"),
        ("docs", "--failed", "--json"),
        ("docs",),
    ]

    log = tmp_path / "serve.log"
    with served(rag_env, log) as url:
        through_server = {command: run(*command) for command in commands}
        refused = run("rm", str(docs / "travel.md"))
    asked = log.read_text()
    for request in ("POST /v1/search 200", "POST /v1/query 200", "GET /v1/documents 200"):
        assert request in asked  # the server answered, not a store this process opened
    assert refused.exit_code == 1
    [line] = refused.stderr.strip().splitlines()
    assert line.startswith("error: The data dir ") and f"`rag serve` at {url}" in line
    assert "`rag rm` cannot run beside it" in line

    alone = {command: run(*command) for command in commands}
    for command in commands:
        served_result, own = through_server[command], alone[command]
        assert (served_result.exit_code, own.exit_code) == (0, 0), (command, served_result.output, own.output)
        assert without_timings(served_result.stdout) == without_timings(own.stdout), command
    answer = json.loads(through_server[("ask", question, "--json")].stdout)
    assert answer["extractive"] is True and "21 days" in answer["answer"]
    assert {"retrieval_ms", "total_ms"} <= set(answer["timings"])
    assert json.loads(through_server[("docs", "--failed", "--json")].stdout)["failed"][0]["source"].endswith(
        "empty.txt"
    )


@pytest.fixture
def no_model_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A server that loads no model: its embedder is an Ollama nobody runs (`rag docs` needs none)."""
    for key in [k for k in os.environ if k.startswith("RAG_") or k == "OLLAMA_HOST"]:
        monkeypatch.delenv(key)
    data = tmp_path / "data"
    monkeypatch.setenv("RAG_DATA_DIR", str(data))
    monkeypatch.setenv("RAG_EMBEDDER", "ollama:nomic-embed-text")
    monkeypatch.setenv("RAG_OLLAMA_HOST", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("RAG_LLM", "none")
    monkeypatch.chdir(tmp_path)
    return data


def test_a_command_without_the_servers_key_says_what_to_set(
    no_model_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAG_API_KEYS", "server-key")
    with served(no_model_env, tmp_path / "serve.log") as url:
        pid = json.loads((no_model_env / SERVER_FILE).read_text())["pid"]
        monkeypatch.delenv("RAG_API_KEYS")
        missing = run("docs", "--json")
        monkeypatch.setenv("RAG_API_KEYS", "not-the-key")
        wrong = run("docs", "--json")
        monkeypatch.setenv("RAG_API_KEYS", "other-key,server-key")
        first_is_wrong = run("docs")
        monkeypatch.setenv("RAG_API_KEYS", "server-key,other-key")
        right = run("docs", "--json")

    assert (missing.exit_code, missing.stdout) == (1, "")
    assert missing.stderr.splitlines() == [
        f"error: `rag serve` at {url} (pid {pid}) requires an API key: set RAG_API_KEYS (or "
        "RAG_API_KEYS_FILE) to one of its keys for the `rag` command too."
    ]
    for refused in (wrong, first_is_wrong):
        assert (refused.exit_code, refused.stdout) == (1, "")
        [line] = refused.stderr.splitlines()
        assert line.startswith(f"error: `rag serve` at {url} (pid {pid}) does not accept the first key")
    assert right.exit_code == 0 and json.loads(right.stdout) == {"documents": []}


def test_commands_that_write_are_refused_at_once_naming_the_server(
    no_model_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAG_AUTH_DISABLED", "true")
    (tmp_path / "note.md").write_text("# Note\n\nSomething worth finding.\n")
    with served(no_model_env, tmp_path / "serve.log") as url:
        results = {
            "ingest": run("ingest", str(tmp_path / "note.md")),
            "rm": run("rm", str(tmp_path / "note.md")),
            "reindex": run("reindex", "--yes"),
            "watch": run("watch", str(tmp_path), "--once"),
        }
    for command, result in results.items():
        assert result.exit_code == 1, (command, result.output)
        [line] = result.stderr.splitlines()
        assert f"in use by `rag serve` at {url}" in line and f"`rag {command}` cannot run beside it" in line
