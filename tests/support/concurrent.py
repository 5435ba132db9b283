"""Run one action from several threads at once, as processes starting together would."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def run_at_once(
    action: Callable[[], T], threads: int = 4, timeout_s: float = 60
) -> tuple[list[T], list[BaseException]]:
    """What each thread's call returned, and what the calls raised; a call still running after
    ``timeout_s`` counts as raised, so a hang fails the caller's ``errors == []`` instead of passing it."""
    results: list[T] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(action())
        except BaseException as exc:
            errors.append(exc)

    # Daemons: a hung call fails its test instead of keeping the test run from exiting.
    started = [threading.Thread(target=run, daemon=True) for _ in range(threads)]
    for thread in started:
        thread.start()
    for thread in started:
        thread.join(timeout_s)
    errors.extend(
        TimeoutError(f"{action!r} still running after {timeout_s} s")
        for thread in started
        if thread.is_alive()
    )
    return results, errors
