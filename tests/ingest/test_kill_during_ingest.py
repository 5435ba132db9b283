"""`kill -9` at ten random moments of a 60-file `rag ingest`, then one run to the end: no document is
missing, no chunk is duplicated or orphaned, and the ledger and the store agree chunk for chunk.

The embedder is the Ollama client against the in-test Ollama protocol server (hashing vectors): fast,
so the kills land in parsing, embedding and writing alike."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from support.ollama_server import OllamaProtocolServer

from ingest.ledger import open_ledger
from rag.config import Settings
from rag.store import open_store

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow  # eleven `rag ingest` processes


def write_corpus(root: Path, files: int) -> None:
    root.mkdir()
    for i in range(files):
        paragraphs = [
            f"Section {j} of note {i}. Team {i % 7} meets on day {j % 5} in room {i * 3 + j}; "
            f"the budget line {i}-{j} is {i * 100 + j} euros and the owner is person {i % 11}."
            for j in range(200 + i % 9)
        ]
        ext = ("md", "txt", "html")[i % 3]
        body = "\n\n".join(paragraphs)
        if ext == "md":
            body = f"# Note {i}\n\n{body}\n"
        elif ext == "html":
            body = (
                f"<html><body><h1>Note {i}</h1>"
                + "".join(f"<p>{p}</p>" for p in paragraphs)
                + "</body></html>"
            )
        (root / f"note{i:02d}.{ext}").write_text(body, encoding="utf-8")


def committed(settings: Settings) -> int:
    if not settings.ledger_path.exists():
        return 0
    ledger = open_ledger(settings)
    try:
        return ledger.count()
    finally:
        ledger.close()


def test_ten_kills_then_a_rerun_leave_ledger_and_store_equal(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    write_corpus(docs, 60)
    with OllamaProtocolServer(models=["nomic-embed-text:latest"]) as ollama:
        env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")} | {
            "RAG_DATA_DIR": str(tmp_path / "data"),
            "RAG_EMBEDDER": "ollama:nomic-embed-text",
            "RAG_OLLAMA_HOST": ollama.url,
            "PYTHONPATH": str(ROOT),
        }
        command = [sys.executable, "-m", "api.cli", "ingest", str(docs), "--json"]
        settings = Settings(data_dir=tmp_path / "data", _env_file=None)  # type: ignore[call-arg]
        rng = random.Random(60)
        kills: list[tuple[int, float]] = []  # (documents committed before the kill, seconds after the first)
        for _ in range(10):
            before = committed(settings)
            process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            # Past start-up (the parser and the store): kill somewhere in the middle of the work.
            while process.poll() is None and committed(settings) == before:
                time.sleep(0.05)
            moment = rng.uniform(0.0, 0.25)
            time.sleep(moment)
            if process.poll() is None:
                os.kill(process.pid, signal.SIGKILL)
                kills.append((committed(settings), round(moment, 2)))
            process.wait(60)
        final = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
        assert final.returncode == 0, final.stderr
        report = json.loads(final.stdout)
        print(f"\nkills (documents in the ledger, seconds into the work): {kills}; the last run: {report}")
        assert report["failed"] == [] and len(kills) >= 8

        ledger = open_ledger(settings)
        store = open_store(settings, None)
        try:
            records = ledger.documents()
            assert sorted(Path(r.source).name for r in records) == sorted(p.name for p in docs.iterdir())
            per_document = store.chunk_counts()
            assert per_document == {r.doc_id: r.chunks for r in records}  # nothing orphaned or missing
            ids = [cid for r in records for cid in r.chunk_ids]
            assert len(ids) == len(set(ids)) == store.count()
            texts = Counter((c.doc_id, c.text) for c in store.get(ids))
            assert max(texts.values()) == 1  # no chunk twice
        finally:
            store.close()
            ledger.close()
