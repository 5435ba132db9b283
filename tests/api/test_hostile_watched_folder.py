"""The hostile corpus (tests/support/hostile.py) dropped into the watched folder of a running server:
the watcher stays alive, `/ready` always answers with a truthful JSON body, every valid document ends
up searchable over HTTP, every failure is listed with its reason, and the secret outside the folder is
never searchable: not through the watcher's links, not through an uploaded XXE file. The hashing
embedder stands in for the model: this is about files, not meaning."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from support.fakes import HashingEmbedder
from support.hostile import SECRET, build, misplaced

from api.app import create_app
from rag.config import Settings
from rag.labels import printable

pytestmark = pytest.mark.slow  # parses the 73 cases, one on purpose past its budget

BUDGET_S = 600
FILE_TIMEOUT_S = 10


def ready_samples(client: TestClient, stop: threading.Event, into: list[tuple[int, dict[str, Any]]]) -> None:
    while not stop.is_set():
        response = client.get("/ready")
        into.append((response.status_code, response.json()))
        stop.wait(0.5)


def test_the_hostile_corpus_in_a_watched_folder(tmp_path: Path) -> None:
    inbox, private = tmp_path / "inbox", tmp_path / "private"
    inbox.mkdir()
    settings = Settings(
        data_dir=tmp_path / "data",
        watch_dir=inbox,
        watch_debounce_s=0.2,
        auth_disabled=True,
        llm="none",
        max_file_mb=5,
        max_file_chunks=200,
        file_timeout_s=FILE_TIMEOUT_S,
        _env_file=None,
    )  # type: ignore[call-arg]
    app = create_app(settings, embedder=HashingEmbedder())
    with TestClient(app, base_url="http://localhost") as client:
        watcher = app.state.services.watcher
        assert watcher is not None and watcher.wait_idle(60)
        samples: list[tuple[int, dict[str, Any]]] = []
        stop = threading.Event()
        sampler = threading.Thread(target=ready_samples, args=(client, stop, samples), daemon=True)
        sampler.start()
        try:
            started = time.monotonic()
            cases = build(inbox, private)  # written straight into the watched folder, as a user drops files
            time.sleep(1)  # let the last events arrive before asking whether the watcher is idle
            assert watcher.wait_idle(BUDGET_S), watcher.status
            seconds = time.monotonic() - started
        finally:
            stop.set()
            sampler.join(10)
        print(f"\nhostile corpus in a watched folder: {len(cases)} cases in {seconds:.1f} s")

        # /ready answered every time, with JSON saying which check failed, and is ready at the end.
        assert samples and all(status in (200, 503) for status, _ in samples)
        for status, body in samples:
            assert body["ready"] == (status == 200) and set(body["checks"]) >= {"store", "watcher"}
        final = client.get("/ready")
        assert final.status_code == 200, final.json()
        assert final.json()["checks"]["watcher"]["ok"]

        documents = client.get("/v1/documents", params={"limit": 1000}).json()
        sources = {d["source"] for d in documents["documents"]}
        failed = client.get("/v1/documents", params={"status": "failed", "limit": 1000}).json()["failed"]
        reasons = {printable(f["source"]): f["error"] for f in failed}
        wrong = misplaced(cases, inbox, reasons, sources, every_failure_listed=False)
        assert wrong == [], "\n".join(wrong)
        for source, reason in reasons.items():
            assert "\n" not in reason and "Traceback" not in reason, source

        # Every valid document is searchable through the API.
        valid = {str((inbox / c.name).resolve()) for c in cases if c.name.startswith("valid/")}
        for source in sorted(valid):
            only = {"query": "paid annual leave days", "top_k": 1, "filters": {"sources": [source]}}
            hits = client.post("/v1/search", json=only).json()["hits"]
            assert [hit["source"] for hit in hits] == [source]

        # The watcher is alive after it all: a new file arrives.
        (inbox / "after.md").write_text("# Canteen\n\nThe canteen on the second floor opens at noon.\n")
        deadline = time.monotonic() + 60
        while not any(
            hit["source"].endswith("after.md")
            for hit in client.post("/v1/search", json={"query": "canteen opens", "top_k": 3}).json()["hits"]
        ):
            assert time.monotonic() < deadline, watcher.status
            time.sleep(0.2)

        # The secret is not searchable: not through the links, not through an uploaded XXE file.
        xxe = (inbox / "bombs" / "xxe.docx").read_bytes()
        uploaded = client.post("/v1/documents?wait=true", files={"file": ("xxe.docx", xxe)})
        assert uploaded.status_code == 201, uploaded.text
        hits = client.post("/v1/search", json={"query": SECRET, "top_k": 100}).json()["hits"]
        assert not any("BLUEHERON" in hit["text"] for hit in hits)
        assert not any(str(private) in hit["source"] for hit in hits)
