"""Parse files in a child process with a time and a memory budget, so that a slow or huge file (a
Markdown file the parser is superlinear on, an XML bomb, a gigantic spreadsheet) is reported as a
failed file and the batch, the watcher or the upload goes on.

One worker process is kept between files (starting one costs the parser's imports, a few seconds);
when a file overruns, the worker is killed and the next file starts a fresh one.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pickle
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import ClassVar, TypeGuard

from ingest.ocr import DEFAULT, OcrOptions, listen_to_pages
from ingest.parse import ParsedDocument, load_parser, parse_file, warm_up
from rag.errors import DocumentError, RagError

_POLL_S = 0.05
_START_TIMEOUT_S = 300  # start-up and a file type's first import: before the file's budget starts
_READY = "ready"
_STARTED = "started"
_PAGES = "pages"  # ("pages", done, total): the worker read another page by OCR
# (done, total) pages of the file being read.
PageProgress = Callable[[int, int], None]
_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


class ParsePool:
    """Up to ``workers`` sandboxes parsing files side by side: a batch keeps them all busy, while the
    watcher and upload jobs, one file at a time, take whichever is free. Each file still runs alone
    in its worker, within the same budgets. A worker process starts on first use, so an idle pool
    costs nothing and a pool only ever fed one file at a time runs one process (about 400-650 MB)."""

    _shared: ClassVar[dict[tuple[float, int, int, OcrOptions], ParsePool]] = {}
    _shared_lock = threading.Lock()

    @classmethod
    def shared(
        cls, timeout_s: float, max_memory_mb: int, workers: int, ocr: OcrOptions = DEFAULT
    ) -> ParsePool:
        """One pool per budget in this process: every ingest service of a server, a command or a test
        run shares its workers instead of starting its own."""
        with cls._shared_lock:
            key = (timeout_s, max_memory_mb, workers, ocr)
            if key not in cls._shared:
                cls._shared[key] = cls(timeout_s, max_memory_mb, workers, ocr)
                if len(cls._shared) == 1:
                    atexit.register(cls._close_shared)
            return cls._shared[key]

    @classmethod
    def abort_shared(cls) -> None:
        """Kill every shared worker now, also in the middle of a file (whose parse then fails): a
        server that is told to stop must not wait for a slow file."""
        for pool in list(cls._shared.values()):
            for sandbox in pool._sandboxes:
                sandbox.abort()

    @classmethod
    def _close_shared(cls) -> None:
        for pool in cls._shared.values():
            pool.close()

    def __init__(self, timeout_s: float, max_memory_mb: int, workers: int, ocr: OcrOptions = DEFAULT) -> None:
        self.workers = max(workers, 1)
        self._sandboxes = [ParseSandbox(timeout_s, max_memory_mb, ocr) for _ in range(self.workers)]
        # Last in, first out: a warm worker is reused before a cold one is started.
        self._idle: queue.LifoQueue[ParseSandbox] = queue.LifoQueue()
        for sandbox in reversed(self._sandboxes):
            self._idle.put(sandbox)

    def parse(self, path: Path, on_pages: PageProgress | None = None) -> ParsedDocument:
        """What parse_file(path) returns, or DocumentError when the file overruns a budget. Blocks
        while every worker is busy. ``on_pages(done, total)`` hears of every page read by OCR."""
        sandbox = self._idle.get()
        try:
            return sandbox.parse(path, on_pages)
        finally:
            self._idle.put(sandbox)

    def close(self) -> None:
        for sandbox in self._sandboxes:
            sandbox.close()


class ParseSandbox:
    """One worker process, one file at a time."""

    def __init__(self, timeout_s: float, max_memory_mb: int, ocr: OcrOptions = DEFAULT) -> None:
        self._timeout_s = timeout_s
        self._max_memory_mb = max_memory_mb
        self._ocr = ocr
        self._lock = threading.Lock()  # one file at a time through the one worker
        self._worker: subprocess.Popen[bytes] | None = None
        self._send: Connection | None = None
        self._receive: Connection | None = None

    def parse(self, path: Path, on_pages: PageProgress | None = None) -> ParsedDocument:
        """What parse_file(path) returns, or DocumentError when the file overruns a budget."""
        with self._lock:
            send, receive, worker = self._connection()
            send.send((str(path), self._ocr))
            self._wait_until_started(receive, worker)
            deadline = time.monotonic() + self._timeout_s
            while True:
                if receive.poll(_POLL_S):
                    outcome = self._receive_outcome(receive)
                    if not _is_page_report(outcome):
                        break
                    if on_pages is not None:
                        on_pages(outcome[1], outcome[2])
                # Checked after every report too: a stream of page reports must not hide an overrun.
                if worker.poll() is not None:
                    self._discard()
                    raise DocumentError(
                        "The parser stopped while reading this file (it may need more memory than the "
                        "machine has); the file was skipped."
                    )
                if time.monotonic() > deadline:
                    self._discard()
                    raise DocumentError(
                        f"Reading this file took longer than {self._timeout_s:g} s (RAG_FILE_TIMEOUT_S): "
                        "it was skipped. Raise the limit to ingest it."
                    )
                if _rss_mb(worker.pid) > self._max_memory_mb:
                    self._discard()
                    raise DocumentError(
                        f"Reading this file needed more than {self._max_memory_mb} MB of memory "
                        "(RAG_MAX_PARSE_MEMORY_MB): it was skipped. Raise the limit to ingest it."
                    )
        if isinstance(outcome, RagError):
            raise outcome
        assert isinstance(outcome, ParsedDocument)
        return outcome

    def _receive_outcome(self, receive: Connection) -> object:
        try:
            return receive.recv()
        except (EOFError, OSError, pickle.UnpicklingError) as exc:
            self._discard()
            raise DocumentError("The parser stopped while reading this file; it was skipped.") from exc

    def _wait_until_started(self, receive: Connection, worker: subprocess.Popen[bytes]) -> None:
        """The worker first imports the parser for the file's type (not charged to the file's budget)."""
        deadline = time.monotonic() + _START_TIMEOUT_S
        while not receive.poll(_POLL_S):
            if worker.poll() is not None or time.monotonic() > deadline:
                self._discard()
                raise DocumentError("The parser process did not start; run with RAG_DEBUG=1 to see why.")
        if receive.recv() != _STARTED:
            self._discard()
            raise DocumentError("The parser process did not start; run with RAG_DEBUG=1 to see why.")

    def close(self) -> None:
        with self._lock:
            self._discard()

    def abort(self) -> None:
        """Kill the worker now, also in the middle of a file: the waiting parse() then reports it."""
        worker = self._worker
        if worker is not None and worker.poll() is None:
            worker.kill()

    def _connection(self) -> tuple[Connection, Connection, subprocess.Popen[bytes]]:
        if self._worker is None or self._worker.poll() is not None or not self._send or not self._receive:
            self._discard()
            # A fresh interpreter, not a fork: the parent may run threads (a watcher, a web server) that a
            # fork would copy mid-operation, and nothing of the caller's __main__ is re-run.
            to_child, from_parent = os.pipe()
            to_parent, from_child = os.pipe()
            debug = os.environ.get("RAG_DEBUG", "") not in ("", "0")
            self._worker = subprocess.Popen(
                [sys.executable, "-m", "ingest.sandbox", str(to_child), str(from_child)],
                pass_fds=(to_child, from_child),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=None if debug else subprocess.DEVNULL,  # library chatter stays out of the output
            )
            os.close(to_child)
            os.close(from_child)
            self._send = Connection(from_parent, readable=False)
            self._receive = Connection(to_parent, writable=False)
            if not self._receive.poll(_START_TIMEOUT_S) or self._receive.recv() != _READY:
                self._discard()
                raise DocumentError("The parser process did not start; run with RAG_DEBUG=1 to see why.")
        return self._send, self._receive, self._worker

    def _discard(self) -> None:
        if self._worker is not None and self._worker.poll() is None:
            self._worker.kill()
            self._worker.wait(5)
        for conn in (self._send, self._receive):
            if conn is not None:
                conn.close()
        self._worker = self._send = self._receive = None


def _serve(receive: Connection, send: Connection) -> None:
    """The worker: parse each path it is sent (with the OCR options) and send back the document or the
    DocumentError."""
    _die_with_parent()
    warm_up()
    listen_to_pages(lambda done, total: send.send((_PAGES, done, total)))
    send.send(_READY)
    while True:
        try:
            path, ocr = receive.recv()
        except EOFError:
            return
        with contextlib.suppress(Exception):  # parse_file meets the same problem and says what to do
            load_parser(Path(path))
        send.send(_STARTED)
        try:
            outcome: ParsedDocument | RagError = parse_file(Path(path), ocr)
        except RagError as exc:
            outcome = exc
        except Exception as exc:  # parse_file maps library errors; anything else must still come back
            outcome = DocumentError(f"Unexpected error while reading the file ({exc.__class__.__name__}).")
        send.send(outcome)


def _die_with_parent() -> None:
    """Exit when the parent process is gone, even in the middle of a file. (Not PR_SET_PDEATHSIG: that
    fires when the parent *thread* that started the worker ends, such as a batch's parse-ahead thread.)"""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(1)

    threading.Thread(target=watch, name="rag-parse-parent-watch", daemon=True).start()


def _rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * _PAGE_SIZE / (1024 * 1024)
    except (OSError, ValueError, IndexError):
        return 0.0


if __name__ == "__main__":
    _serve(Connection(int(sys.argv[1]), writable=False), Connection(int(sys.argv[2]), readable=False))


def _is_page_report(message: object) -> TypeGuard[tuple[str, int, int]]:
    return isinstance(message, tuple) and len(message) == 3 and message[0] == _PAGES
