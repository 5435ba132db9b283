"""The workers benchmark at a tiny size: its JSON is complete and consistent (no timing asserted)."""

from __future__ import annotations

import pytest
from support.ollama_server import OllamaProtocolServer
from support.postgres import PostgresServer

from bench import workers


@pytest.mark.slow  # three `rag worker` processes
def test_every_run_ingests_every_file_once_and_reports_the_speedup(
    postgres_server: PostgresServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    with OllamaProtocolServer(models=["nomic-embed-text:latest"]) as ollama:
        monkeypatch.setenv("RAG_EMBEDDER", "ollama:nomic-embed-text")
        monkeypatch.setenv("RAG_OLLAMA_HOST", ollama.url)
        tiny = ["--files", "8", "--words", "120", "--workers", "1,2", "--moves"]
        result = workers.main([*tiny, "--database-url", postgres_server.url()])
    one, two = result["runs"]["workers_1"], result["runs"]["workers_2"]
    assert result["all_consistent"]
    assert (one["workers"], two["workers"]) == (1, 2)
    assert one["files_per_worker"] == [8] and sum(two["files_per_worker"]) == 8
    assert one["check"] == two["check"] == {"documents": 8, "failed": [], "ok": True}
    assert one["scan"]["queued"] == two["scan"]["queued"] == 8
    assert result["speedup_over_baseline"]["workers_2"] > 0
    # Each run moved its folder both ways (it checks the ledger holds every file at its new path).
    assert one["moves"]["order"] == two["moves"]["order"] == ["move_jobs", "two_path_jobs"]
    assert one["moves"]["move_jobs"] > 0 and one["moves"]["two_path_jobs"] > 0
    assert one["moves_by_round"] == [one["moves"]]
