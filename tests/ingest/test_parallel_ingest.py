"""Parallel ingest: files parsed by several worker processes at once, one writer to the store and the
ledger. Every good file lands once, a bad file among them is reported, and the store holds exactly the
chunks the ledger lists, whatever the number of workers (hashing embedder: this is about files)."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.fakes import HashingEmbedder

from ingest.service import IngestService
from rag.config import Settings
from rag.knowledge_base import KnowledgeBase


def corpus(root: Path) -> list[str]:
    root.mkdir()
    names = []
    for n in range(12):
        name = f"doc{n:02d}.{('md', 'txt', 'html')[n % 3]}"
        body = f"Policy {n}. " + " ".join(f"rule{n}x{i} applies to team {i % 7}." for i in range(150))
        text = f"<h1>Doc {n}</h1><p>{body}</p>" if name.endswith("html") else f"# Doc {n}\n\n{body}\n"
        (root / name).write_text(text)
        names.append(name)
    (root / "broken.pdf").write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 20)
    (root / "empty.md").write_bytes(b"")
    return names


@pytest.mark.parametrize("workers", [1, 2, 4])
def test_every_file_lands_once_whatever_the_number_of_workers(tmp_path: Path, workers: int) -> None:
    names = corpus(tmp_path / "docs")
    settings = Settings(data_dir=tmp_path / "data", ingest_workers=workers, _env_file=None)  # type: ignore[call-arg]
    kb = KnowledgeBase(settings, embedder=HashingEmbedder())
    try:
        with IngestService(kb) as service:
            report = service.sync([tmp_path / "docs"])
            assert (report.added, sorted(Path(f["path"]).name for f in report.failed)) == (
                len(names),
                ["broken.pdf", "empty.md"],
            )
            records = service.ledger.documents()
            assert sorted(Path(r.source).name for r in records) == sorted(names)
            ledger_ids = [cid for r in records for cid in r.chunk_ids]
            assert len(ledger_ids) == len(set(ledger_ids)) == kb.store.count() == report.chunks_embedded

            again = service.sync([tmp_path / "docs"])
            assert (again.added, again.unchanged, again.chunks_embedded) == (0, len(names), 0)
            assert kb.store.count() == len(ledger_ids)
    finally:
        kb.close()
