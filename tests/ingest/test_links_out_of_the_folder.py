"""A secret outside an ingested folder is never searchable through a link inside it: not through
`sync` (what `rag ingest` and the watcher's reconcile run), not through the watcher's file events; and
a link loop dropped into a watched folder does not stop the watcher (fast tier: hashing embedder)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.fakes import HashingEmbedder

from ingest.service import IngestService
from ingest.watcher import FolderWatcher
from rag.config import Settings
from rag.errors import ConfigError
from rag.knowledge_base import KnowledgeBase

SECRET = "The merger code name is BLUEHERON and the price is 41 euros per share."


@pytest.fixture(name="service")
def service_fixture(tmp_path: Path) -> Iterator[IngestService]:
    settings = Settings(data_dir=tmp_path / "data", _env_file=None)  # type: ignore[call-arg]
    kb = KnowledgeBase(settings, embedder=HashingEmbedder())
    with IngestService(kb) as service:
        yield service
    kb.close()


@pytest.fixture(name="folders")
def folders_fixture(tmp_path: Path) -> tuple[Path, Path]:
    outside = tmp_path / "private"
    outside.mkdir()
    (outside / "merger.txt").write_text(SECRET)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "welcome.txt").write_text("Welcome to the team. Lunch is served at noon in the canteen.")
    return inbox, outside


def searchable(service: IngestService, text: str) -> bool:
    hits = service.kb.retriever().search(text, top_k=10)
    return any("BLUEHERON" in hit.chunk.text for hit in hits) or any(
        "merger" in record.source for record in service.ledger.documents()
    )


def test_sync_reports_links_out_and_never_reads_them(
    service: IngestService, folders: tuple[Path, Path]
) -> None:
    inbox, outside = folders
    (inbox / "merger.txt").symlink_to(outside / "merger.txt")
    (inbox / "private").symlink_to(outside, target_is_directory=True)

    report = service.sync([inbox])

    assert report.added == 1
    assert {Path(f["path"]).name: f["error"] for f in report.failed} == {
        "merger.txt": "A link to outside the folder: not followed.",
        "private": "A link to outside the folder (or a broken link): not followed.",
    }
    assert not searchable(service, "merger code name price per share")


@pytest.mark.parametrize("poll", [False, True], ids=["inotify", "polling"])
def test_the_watcher_ignores_links_out_and_survives_a_link_loop(
    service: IngestService, folders: tuple[Path, Path], poll: bool
) -> None:
    inbox, outside = folders
    events: list[tuple[str, str]] = []
    watcher = FolderWatcher(inbox, service, debounce_s=0.1, poll=poll, poll_interval_s=0.1,
                            on_event=lambda what, detail: events.append((what, detail)))  # fmt: skip
    watcher.start()
    try:
        assert watcher.wait_idle(30)
        (inbox / "loop-a.txt").symlink_to(inbox / "loop-b.txt")
        (inbox / "loop-b.txt").symlink_to(inbox / "loop-a.txt")
        (inbox / "merger.txt").symlink_to(outside / "merger.txt")
        assert watcher.wait_idle(30)  # the events of the links were seen (and ignored)
        (inbox / "later.txt").write_text("The car park closes at midnight on weekdays and at ten on Sundays.")
        deadline = time.monotonic() + 30  # the observer is still alive: the new file arrives as an event
        while time.monotonic() < deadline and not any(d.endswith("later.txt") for _, d in events):
            time.sleep(0.1)
        assert watcher.wait_idle(30)
        assert any(what == "added" and detail.endswith("later.txt") for what, detail in events), events
        assert watcher.status.running and not searchable(service, "merger code name price per share")
    finally:
        watcher.stop()


def test_a_dead_observer_is_restarted_and_ready_says_so_meanwhile(
    service: IngestService, folders: tuple[Path, Path]
) -> None:
    inbox, _ = folders
    watcher = FolderWatcher(inbox, service, debounce_s=0.1, poll=True, poll_interval_s=0.1).start()
    try:
        assert watcher.wait_idle(60)
        assert watcher.health(wedged_after_s=60)[0]
        dead = watcher._observer
        dead.stop()  # what an error in the file system layer does to it
        dead.join(10)
        ok, detail = watcher.health(wedged_after_s=60)
        assert (not ok and "not watching for changes" in detail) or watcher.status.observer_restarts == 1
        deadline = time.monotonic() + 30
        while watcher.status.observer_restarts == 0 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert watcher.status.observer_restarts == 1 and watcher.health(wedged_after_s=60)[0]
        (inbox / "after.txt").write_text("The gym on the fourth floor opens at seven in the morning.")
        deadline = time.monotonic() + 30
        while not any(r.source.endswith("after.txt") for r in service.ledger.documents()):
            assert time.monotonic() < deadline, watcher.status
            time.sleep(0.1)
    finally:
        watcher.stop()


def test_a_watched_folder_inside_the_data_dir_is_refused_with_a_reason(service: IngestService) -> None:
    data_dir = service.kb.settings.data_dir
    inbox = data_dir / "inbox"
    inbox.mkdir(parents=True)
    with pytest.raises(ConfigError) as err:
        FolderWatcher(inbox, service, exclude=data_dir).start()
    assert "is inside the data dir" in err.value.message and "outside it" in err.value.message
