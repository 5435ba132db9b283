"""Keep the index in step with a folder as files are added, edited, moved and deleted.

Events from watchdog (inotify, or polling for network shares) only *schedule* work: each path gets one
entry in a queue, so ten saves of a file become one ingest. A single worker takes an entry once the file
has stopped changing for the debounce window, and does it through the same IngestService as `rag ingest`.
On start, and whenever the watcher cannot tell what happened, a full reconciliation of the folder against
the ledger puts everything right: the ledger, not the event stream, is the source of truth.

With a ``queue`` (RAG_DATABASE_URL: `rag worker` processes ingest), the watcher ingests nothing itself:
each quiet path becomes a job, and a reconciliation queues what changed, as `rag scan` does. The workers
stay the only writers of a file, and server replicas watching one folder queue each change once.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.polling import PollingObserver

from ingest.discover import is_candidate, safe_resolve
from ingest.service import IngestService, Outcome, source_of
from rag.errors import ConfigError, DocumentError, RagError
from rag.labels import printable

log = logging.getLogger(__name__)

# How often the worker checks that the observer thread is still alive.
_SUPERVISE_S = 5.0
_RECONCILE = "<reconcile>"  # queue key of a full reconciliation of the folder


class JobQueue(Protocol):
    """Where the watcher's work goes when workers do the ingesting (ingest.worker.FolderJobs)."""

    def enqueue_path(self, source: str) -> bool: ...  # False: a job for it was already waiting

    def enqueue_move(self, source: str, moved_from: str) -> bool: ...  # the same; then moved_from is queued

    def enqueue_changes(self, root: Path) -> str: ...  # a scan; says what it queued


@dataclass
class WatchStatus:
    root: str
    running: bool = False
    queue_length: int = 0
    in_progress: str | None = None
    in_progress_since: float | None = None  # time.monotonic() when the current item started
    observer_restarts: int = 0
    last_error: str | None = None
    counts: dict[str, int] = field(default_factory=dict)


@dataclass
class _Pending:
    due: float
    stat: tuple[int, int] | None
    move_from: Path | None = None


class FolderWatcher:
    def __init__(
        self,
        root: Path,
        ingest: IngestService,
        *,
        lock: threading.Lock | None = None,
        debounce_s: float = 2.0,
        poll: bool = False,
        poll_interval_s: float = 2.0,
        exclude: Path | None = None,
        on_event: Callable[[str, str], None] | None = None,
        queue: JobQueue | None = None,
    ) -> None:
        self.root = root.expanduser().resolve()
        self._ingest = ingest
        self._queue = queue
        self._lock = lock or threading.Lock()
        self._debounce_s = debounce_s
        self._exclude = exclude.resolve() if exclude else None
        self._on_event = on_event
        self._pending: dict[str, _Pending] = {}
        self._cond = threading.Condition()
        self._stopping = False
        self._worker: threading.Thread | None = None
        self._poll_interval_s = poll_interval_s if poll else None
        self._observer: Any = self._new_observer()
        self.status = WatchStatus(root=str(self.root))

    # -- lifecycle -----------------------------------------------------------------------------------

    def start(self) -> FolderWatcher:
        if not self.root.is_dir():
            raise DocumentError(
                f"The watched folder {self.root} does not exist: create it or fix RAG_WATCH_DIR."
            )
        if self._exclude is not None and self.root.is_relative_to(self._exclude):
            raise ConfigError(
                f"The watched folder {self.root} is inside the data dir {self._exclude}, whose files are the "
                "service's own and never ingested: watch a folder outside it, or move RAG_DATA_DIR."
            )
        self._observer.schedule(_Handler(self), str(self.root), recursive=True)
        self._observer.start()
        with self._cond:
            # Catch up with whatever happened while nobody was watching.
            self._pending[_RECONCILE] = _Pending(due=0.0, stat=None)
            self._cond.notify()
        self._worker = threading.Thread(target=self._run, name="rag-watcher", daemon=True)
        self._worker.start()
        self.status.running = True
        return self

    def stop(self) -> None:
        self._observer.stop()
        with self._cond:
            self._stopping = True
            self._cond.notify()
        self._observer.join(timeout=10)
        if self._worker is not None:
            self._worker.join(timeout=60)
        self.status.running = False

    def health(self, wedged_after_s: float) -> tuple[bool, str]:
        """Whether the watcher works, and a sentence saying how: its threads are alive and no file has
        been in progress for longer than ``wedged_after_s``."""
        s = self.status
        busy_s = time.monotonic() - s.in_progress_since if s.in_progress_since is not None else 0.0
        worker_alive = self._worker is not None and self._worker.is_alive()
        problems = []
        if not s.running or not worker_alive:
            problems.append("not running")
        if not self._observer.is_alive():
            problems.append("not watching for changes (restarting)")
        if busy_s > wedged_after_s:
            problems.append(f"stuck for {busy_s:.0f} s on {s.in_progress}")
        detail = (
            f"{s.root}: {s.queue_length} queued, in progress: {s.in_progress or 'nothing'}, "
            + ", ".join(f"{n} {k}" for k, n in sorted(s.counts.items()))
            + f"; last error: {s.last_error or 'none'}"
        )
        # File names may hold any byte and control characters: the sentence is shown escaped.
        return not problems, printable(("; ".join(problems) + ". " if problems else "") + detail)

    def _new_observer(self) -> Any:
        if self._poll_interval_s is not None:
            return PollingObserver(timeout=self._poll_interval_s)
        return Observer()

    def _restart_observer(self) -> None:
        """The observer thread died (an error in the file system layer): watch again, and catch up
        with whatever happened meanwhile."""
        log.warning("the folder watcher stopped seeing changes; restarting it")
        self._observer = self._new_observer()
        self._observer.schedule(_Handler(self), str(self.root), recursive=True)
        self._observer.start()
        self.status.observer_restarts += 1
        self._pending[_RECONCILE] = _Pending(due=0.0, stat=None)

    def wait_idle(self, timeout: float) -> bool:
        """Block until the queue is empty and nothing is in progress (for tests and `rag watch --once`)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._cond:
                if not self._pending and self.status.in_progress is None:
                    return True
            time.sleep(0.05)
        return False

    # -- scheduling (watchdog's thread) --------------------------------------------------------------

    def schedule(self, path: Path, move_from: Path | None = None) -> None:
        if self._ignored(path):
            if move_from is not None and not self._ignored(move_from):
                self.schedule(move_from)  # renamed to something we do not index: gone from the index
            return
        with self._cond:
            previous = self._pending.get(str(path))
            self._pending[str(path)] = _Pending(
                due=time.monotonic() + self._debounce_s,
                stat=_stat(path),
                move_from=move_from or (previous.move_from if previous else None),
            )
            self.status.queue_length = len(self._pending)
            self._cond.notify()

    def schedule_reconcile(self) -> None:
        with self._cond:
            self._pending[_RECONCILE] = _Pending(due=time.monotonic() + self._debounce_s, stat=None)
            self.status.queue_length = len(self._pending)
            self._cond.notify()

    def schedule_folder(self, folder: Path) -> None:
        """A folder appeared (created or moved in): its files may predate our watch on it."""
        for directory, dirnames, filenames in os.walk(folder):
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            for name in filenames:
                self.schedule(Path(directory, name))

    def _ignored(self, path: Path) -> bool:
        """Outside the folder (also through a link), hidden, in the data dir, or not a document. A link
        to outside, a broken link or a loop is left alone here and reported by the next reconcile."""
        try:
            real = path.resolve()  # not strict: a deleted file still maps to where it was
        except (OSError, RuntimeError):  # a link loop
            return True
        if (path.is_symlink() and safe_resolve(path) is None) or not real.is_relative_to(self.root):
            return True
        relative = real.relative_to(self.root)
        if self._exclude is not None and (real == self._exclude or self._exclude in real.parents):
            return True
        return any(part.startswith(".") for part in relative.parts[:-1]) or not is_candidate(path)

    # -- the worker ----------------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cond:
                key, item = self._next_due()
                if key is None:
                    return
                self.status.in_progress = key
                self.status.in_progress_since = time.monotonic()
                self.status.queue_length = len(self._pending)
            try:
                with self._lock:
                    self._process(key, item)
            except RagError as exc:
                self._note_error(key, exc.message)
            except Exception as exc:  # the watcher must outlive any one file
                log.debug("watcher failed on %s", key, exc_info=True)
                self._note_error(key, f"unexpected {exc.__class__.__name__}: {exc}")
            finally:
                with self._cond:
                    self.status.in_progress = None
                    self.status.in_progress_since = None

    def _next_due(self) -> tuple[str | None, _Pending]:
        """Wait (holding the condition) for an entry that is due and whose file has stopped changing."""
        while True:
            if self._stopping:
                return None, _Pending(0, None)
            now = time.monotonic()
            due = [(p.due, k) for k, p in self._pending.items() if p.due <= now]
            for _, key in sorted(due):
                item = self._pending[key]
                if key != _RECONCILE:
                    stat = _stat(Path(key))
                    if stat != item.stat:  # still being written: look again after another window
                        self._pending[key] = _Pending(now + self._debounce_s, stat, item.move_from)
                        continue
                del self._pending[key]
                return key, item
            if not self._observer.is_alive() and not self._stopping:
                self._restart_observer()
            waits = [p.due - now for p in self._pending.values()] + [_SUPERVISE_S]
            self._cond.wait(timeout=max(min(waits), 0.01))

    def _process(self, key: str, item: _Pending) -> None:
        if self._queue is not None:
            self._queue_job(self._queue, key, item)
            return
        if key == _RECONCILE:
            report = self._ingest.sync([self.root], remove_missing=True, exclude=self._exclude)
            for name in ("added", "updated", "removed"):
                self._count(name, getattr(report, name))
            for failure in report.failed:
                self._note_error(failure["path"], failure["error"])
            self._emit("reconciled", f"{self.root} ({report.added} added, {report.updated} updated, "
                       f"{report.removed} removed, {len(report.failed)} failed)")  # fmt: skip
            return
        path = Path(key)
        if item.move_from is not None:
            moved = self._ingest.move(item.move_from, path)
            if moved is not None:
                self._count(moved.value)
                self._emit(moved.value, f"{item.move_from} -> {path}")
                return
        if path.is_file():
            try:
                outcome, _ = self._ingest.ingest_file(path)
            except DocumentError as exc:
                self._note_error(key, exc.message)
                return
            self._count(outcome.value)
            if outcome != Outcome.UNCHANGED:
                self._emit(outcome.value, key)
        elif self._ingest.forget(source_of(path)):
            self._count("removed")
            self._emit("removed", key)

    def _queue_job(self, queue: JobQueue, key: str, item: _Pending) -> None:
        if key == _RECONCILE:
            self._emit("reconciled", f"{self.root} ({queue.enqueue_changes(self.root)})")
            return
        # A path's job ingests, updates or removes it, whichever the file needs when a worker gets to it.
        # A move is the new path's job, reusing the old document's vectors, which then queues the old
        # path's removal: one job per path keeps its per-path lock, so two workers never write one file.
        source = source_of(Path(key))
        if item.move_from is None:
            queued = queue.enqueue_path(source)
        else:
            queued = queue.enqueue_move(source, source_of(item.move_from))
        self._count("queued" if queued else "already queued")
        self._emit("queued", key if item.move_from is None else f"{key} <- {item.move_from}")

    def _forget_folder(self, folder: Path) -> None:
        for record in self._ingest.known_under(folder):
            self.schedule(Path(record.source))

    def _count(self, outcome: str, n: int = 1) -> None:
        if n:
            self.status.counts[outcome] = self.status.counts.get(outcome, 0) + n

    def _note_error(self, key: str, message: str) -> None:
        self.status.last_error = f"{key}: {message}"
        self._count("failed")
        self._emit("failed", f"{key}: {message}")

    def _emit(self, what: str, detail: str) -> None:
        detail = printable(detail)
        log.info("watcher %s %s", what, detail)
        if self._on_event:
            self._on_event(what, detail)


class _Handler(FileSystemEventHandler):
    def __init__(self, watcher: FolderWatcher) -> None:
        self._w = watcher

    def on_any_event(self, event: FileSystemEvent) -> None:
        try:
            self._handle(event)
        except Exception as exc:  # raised on the observer's thread it would end the watching for good
            log.warning("watcher: could not handle %s (%s); reconciling the folder", event, exc)
            self._w._note_error(printable(os.fsdecode(event.src_path)), f"{exc.__class__.__name__}: {exc}")
            self._w.schedule_reconcile()

    def _handle(self, event: FileSystemEvent) -> None:
        if event.event_type in ("opened", "closed_no_write"):
            return
        src = Path(os.fsdecode(event.src_path))
        if event.is_directory:
            if event.event_type == "moved":
                # Documents under the old folder move with it (no re-embedding); files are picked up anew.
                dest = Path(os.fsdecode(event.dest_path))
                for record in self._w._ingest.known_under(src):
                    moved = dest / Path(record.source).relative_to(source_of(src))
                    self._w.schedule(moved, move_from=Path(record.source))
                self._w.schedule_folder(dest)
            elif event.event_type == "deleted":
                self._w._forget_folder(src)
            elif event.event_type == "created":
                self._w.schedule_folder(src)
            return
        if event.event_type == "moved":
            self._w.schedule(Path(os.fsdecode(event.dest_path)), move_from=src)
        else:  # created, modified, closed, deleted: look at the file again once it is quiet
            self._w.schedule(src)


def _stat(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns
