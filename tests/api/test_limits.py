"""The answer limiter: a slot per answer, a short queue, then 429 with a Retry-After worth waiting for."""

from __future__ import annotations

import threading
import time

import pytest

from api.limits import AnswerLimiter
from rag.errors import TooBusyError


def test_beyond_slots_and_queue_it_refuses_with_the_default_retry_after() -> None:
    limiter = AnswerLimiter(max_concurrent=1, queue_limit=0)
    limiter.acquire()
    with pytest.raises(TooBusyError) as refused:
        limiter.acquire()
    assert refused.value.retry_after_s == 5  # nothing has finished yet: no duration to go by


def test_retry_after_follows_recent_answer_durations_and_the_queue() -> None:
    limiter = AnswerLimiter(max_concurrent=1, queue_limit=1)
    started = limiter.acquire()
    limiter.release(started - 20)  # an answer that took 20 s
    assert limiter.retry_after_s() == 21  # 20 s, rounded up, for the one slot
    held = limiter.acquire()
    waiter = threading.Thread(target=limiter.acquire)
    waiter.start()
    deadline = time.monotonic() + 5
    while limiter.waiting == 0:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    with pytest.raises(TooBusyError) as refused:
        limiter.acquire()
    # One running and one waiting ahead of this client: about two answers' time.
    assert 40 <= refused.value.retry_after_s <= 42
    limiter.release(held)
    waiter.join(5)
    assert limiter.running == 1 and limiter.waiting == 0


def test_retry_after_is_bounded() -> None:
    limiter = AnswerLimiter(max_concurrent=1, queue_limit=0)
    limiter.release(limiter.acquire() - 10_000)
    assert limiter.retry_after_s() == 120
