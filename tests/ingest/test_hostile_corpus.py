"""The hostile corpus (tests/support/hostile.py, 73 cases) through one sync, the path `rag ingest` and
the watcher's reconcile take: it finishes within its budget, every case lands where it must (ingested,
failed with a reason a user can act on, skipped or ignored), and the secret outside the folder is never
searchable. The hashing embedder stands in for the model: this is about files, not about meaning."""

from __future__ import annotations

import resource
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.fakes import HashingEmbedder
from support.hostile import Case, build

from ingest.service import IngestService, source_of
from rag.config import Settings
from rag.knowledge_base import KnowledgeBase
from rag.labels import printable

pytestmark = pytest.mark.slow  # parses 73 files, two of them on purpose past their budget

BUDGET_S = 600  # the stated budget for the whole batch; the slow file alone may take FILE_TIMEOUT_S
FILE_TIMEOUT_S = 10


@pytest.fixture(name="service")
def service_fixture(tmp_path: Path) -> Iterator[IngestService]:
    settings = Settings(
        data_dir=tmp_path / "data",
        max_file_mb=5,
        max_file_chunks=200,
        file_timeout_s=FILE_TIMEOUT_S,
        _env_file=None,
    )  # type: ignore[call-arg]
    kb = KnowledgeBase(settings, embedder=HashingEmbedder())
    with IngestService(kb) as service:
        yield service
    kb.close()


def shown(root: Path, case: Case) -> str:
    return printable(str(root / case.name))


def test_every_hostile_case_lands_where_it_should_and_the_batch_finishes(
    service: IngestService, tmp_path: Path
) -> None:
    root = tmp_path / "corpus"
    cases = build(root, tmp_path / "private")
    assert len(cases) >= 60

    started = time.monotonic()
    report = service.sync([root])
    seconds = time.monotonic() - started
    peak_mib = (
        max(
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
            resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
        )
        / 1024
    )
    print(f"\nhostile corpus: {len(cases)} cases in {seconds:.1f} s, peak RSS {peak_mib:.0f} MiB")
    assert seconds < BUDGET_S

    failed = {f["path"]: f["error"] for f in report.failed}
    sources = {r.source for r in service.ledger.documents()}
    wrong: list[str] = []
    for case in cases:
        path = root / case.name
        if case.expect == "ingested":
            if source_of(path) not in sources:
                wrong.append(f"{case.name}: not ingested ({failed.get(shown(root, case))})")
        elif case.expect == "failed":
            reason = failed.get(shown(root, case))
            if reason is None or case.reason.lower() not in reason.lower():
                wrong.append(f"{case.name}: expected a failure about {case.reason!r}, got {reason!r}")
        elif case.expect == "ignored":
            assert shown(root, case) not in failed and source_of(path) not in sources
    assert wrong == [], "\n".join(wrong)
    assert report.skipped == sum(1 for c in cases if c.expect == "skipped")
    assert len(failed) == sum(1 for c in cases if c.expect == "failed")
    # Every reason is one line a user can act on: no library internals, no stack trace.
    for where, reason in failed.items():
        assert "\n" not in reason and "Traceback" not in reason and "Unexpected error" not in reason, where

    hits = service.kb.retriever().search("merger code name BLUEHERON", top_k=20)
    assert not any("BLUEHERON" in hit.chunk.text for hit in hits)
    assert not any("private" in source for source in sources)
