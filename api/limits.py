"""Bound concurrent answers: the LLM is the bottleneck, so extra requests wait briefly in a short queue
and beyond it are refused at once with 429 and Retry-After instead of piling up."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from rag.errors import TooBusyError

# Retry-After before any answer has finished, and the bounds of the estimate after.
_DEFAULT_RETRY_AFTER_S = 5
_MAX_RETRY_AFTER_S = 120
# Weight of the latest answer in the running average of answer durations.
_SMOOTHING = 0.3


class AnswerLimiter:
    def __init__(self, max_concurrent: int, queue_limit: int, wait_s: float = 120.0) -> None:
        self._slots = threading.BoundedSemaphore(max_concurrent)
        self._queue_limit = queue_limit
        self._wait_s = wait_s
        self._max_concurrent = max_concurrent
        self._lock = threading.Lock()
        self._average_answer_s: float | None = None
        self.waiting = 0
        self.running = 0

    @contextmanager
    def slot(self) -> Iterator[None]:
        started = self.acquire()
        try:
            yield
        finally:
            self.release(started)

    def retry_after_s(self) -> int:
        """When a slot is likely free for a client turned away now: the answers ahead of it, at the
        recent answer duration. A fixed short value sends polite clients back while the same answers
        are still running, and they lose the race for every freed slot to clients that never waited."""
        if self._average_answer_s is None:
            return _DEFAULT_RETRY_AFTER_S
        ahead = (self.waiting + 1) / self._max_concurrent
        return max(1, min(_MAX_RETRY_AFTER_S, math.ceil(self._average_answer_s * ahead)))

    def acquire(self) -> float:
        """Take a slot (waiting in the queue if there is room); returns the time it was taken."""
        if self._slots.acquire(blocking=False):
            with self._lock:
                self.running += 1
            return time.monotonic()
        with self._lock:
            if self.waiting >= self._queue_limit:
                raise TooBusyError(
                    f"{self.running} answers are being generated and {self.waiting} are waiting; "
                    "try again shortly.",
                    retry_after_s=self.retry_after_s(),
                )
            self.waiting += 1
        try:
            acquired = self._slots.acquire(timeout=self._wait_s)
        finally:
            with self._lock:
                self.waiting -= 1
        if not acquired:
            raise TooBusyError(
                "No answer slot became free in time; try again shortly.", retry_after_s=self.retry_after_s()
            )
        with self._lock:
            self.running += 1
        return time.monotonic()

    def release(self, started: float | None = None) -> None:
        with self._lock:
            self.running -= 1
            if started is not None:
                held = time.monotonic() - started
                average = self._average_answer_s
                self._average_answer_s = held if average is None else average + _SMOOTHING * (held - average)
        self._slots.release()
