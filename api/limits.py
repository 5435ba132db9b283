"""Bound concurrent answers: the LLM is the bottleneck, so extra requests wait briefly in a short queue
and beyond it are refused at once with 429 and Retry-After instead of piling up."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from rag.errors import TooBusyError


class AnswerLimiter:
    def __init__(self, max_concurrent: int, queue_limit: int, wait_s: float = 120.0) -> None:
        self._slots = threading.BoundedSemaphore(max_concurrent)
        self._queue_limit = queue_limit
        self._wait_s = wait_s
        self._lock = threading.Lock()
        self.waiting = 0
        self.running = 0

    @contextmanager
    def slot(self) -> Iterator[None]:
        self.acquire()
        try:
            yield
        finally:
            self.release()

    def acquire(self) -> None:
        if self._slots.acquire(blocking=False):
            with self._lock:
                self.running += 1
            return
        with self._lock:
            if self.waiting >= self._queue_limit:
                raise TooBusyError(
                    f"{self.running} answers are being generated and {self.waiting} are waiting; "
                    "try again shortly.",
                    retry_after_s=5,
                )
            self.waiting += 1
        try:
            acquired = self._slots.acquire(timeout=self._wait_s)
        finally:
            with self._lock:
                self.waiting -= 1
        if not acquired:
            raise TooBusyError("No answer slot became free in time; try again shortly.", retry_after_s=10)
        with self._lock:
            self.running += 1

    def release(self) -> None:
        with self._lock:
            self.running -= 1
        self._slots.release()
