"""A full disk, for real: the data dir on a small tmpfs that the corpus overflows. Unguarded, the
embedded store dies of SIGBUS halfway through a write (this very test with the guard switched off:
the child exits with -7; on a 2 MB tmpfs, `Fatal Python error: Bus error` in EdgeShard.create).
Guarded, the ingest stops with a 'disk full' sentence, and once there is room a re-run completes it:
every document once, the ledger equal to the store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # no model, but 30 s of parsing and embedding: kept out of the fast tier

ROOT = Path(__file__).resolve().parents[2]
DISK_MB = 24
RESERVE_MB = 4
# Wide vectors fill the disk with few chunks, so the test parses little.

# Run in a child: a SIGBUS there is a return code here, not a dead test run.
INGEST = """
import json, sys
sys.path.append({tests!r})
from pathlib import Path
from support.fakes import HashingEmbedder
from ingest.service import IngestService
from rag.config import Settings
from rag.errors import RagError
from rag.knowledge_base import KnowledgeBase

settings = Settings(data_dir=Path({data!r}), min_free_disk_mb={reserve}, _env_file=None)
kb = KnowledgeBase(settings, embedder=HashingEmbedder(dimension=4096))
try:
    with IngestService(kb) as service:
        report = service.sync([Path({corpus!r})])
        documents = service.ledger.documents()
        chunks = sum(r.chunks for r in documents)
        print(json.dumps({{"report": report.to_json(), "documents": len(documents), "ledger_chunks": chunks,
                          "store_chunks": kb.store.count()}}))
except RagError as exc:
    print(json.dumps({{"error": exc.code, "message": exc.message}}))
    sys.exit(3)
finally:
    kb.close()
"""


@pytest.fixture(name="small_disk")
def small_disk_fixture(tmp_path: Path) -> Iterator[Path]:
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={DISK_MB}m", "tmpfs", str(disk)], capture_output=True, text=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"needs to mount a {DISK_MB} MB tmpfs (root with mount rights): {mounted.stderr.strip()}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def ingest(corpus: Path, data: Path) -> tuple[int, dict[str, object]]:
    script = INGEST.format(tests=str(ROOT / "tests"), data=str(data), corpus=str(corpus), reserve=RESERVE_MB)
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode in (0, 3), f"rc {done.returncode}: {done.stderr[-3000:]}"
    return done.returncode, json.loads(done.stdout.strip().splitlines()[-1])


def test_a_full_disk_stops_the_ingest_with_a_reason_and_a_rerun_completes_it(
    small_disk: Path, tmp_path: Path
) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for n in range(36):
        words = " ".join(f"term{(n * 7919 + i) % 20011}" for i in range(10_000))  # ~100 KB, ~80 chunks each
        (corpus / f"doc{n:02d}.txt").write_text(f"Document {n}.\n\n{words}\n")
    data = small_disk / "data"

    code, stopped = ingest(corpus, data)
    assert code == 3, stopped
    assert stopped["error"] == "disk_full"
    assert "is nearly full" in str(stopped["message"]) and "RAG_MIN_FREE_DISK_MB" in str(stopped["message"])

    subprocess.run(["mount", "-o", "remount,size=512m", str(small_disk)], check=True)  # room made
    code, done = ingest(corpus, data)
    assert code == 0, done
    report = done["report"]
    assert isinstance(report, dict) and report["failed"] == []
    assert done["documents"] == 36
    assert done["ledger_chunks"] == done["store_chunks"]  # no chunk of the stopped run left over
