"""Bounded work per file: parsing runs in a child process with a time and a memory budget, so a slow or
huge file fails with a reason and the next file is read by a fresh worker."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ingest.parse import parse_file
from ingest.sandbox import ParsePool, ParseSandbox
from rag.errors import DocumentError

pytestmark = pytest.mark.slow  # each worker loads the parser and its text classifier (seconds)


@pytest.fixture(name="sandbox")
def sandbox_fixture() -> Iterator[ParseSandbox]:
    sandbox = ParseSandbox(timeout_s=3, max_memory_mb=1200)
    yield sandbox
    sandbox.close()


def test_a_file_is_parsed_as_in_process(sandbox: ParseSandbox, tmp_path: Path) -> None:
    path = tmp_path / "leave.md"
    path.write_text("# Leave\n\nEmployees get 27 days of paid leave.\n")
    assert sandbox.parse(path) == parse_file(path)


def test_a_file_over_the_time_budget_fails_and_the_next_file_is_read(
    sandbox: ParseSandbox, tmp_path: Path
) -> None:
    # Nested brackets: the Markdown parser is superlinear on them (issue 13: 5k brackets took 33 s).
    slow = tmp_path / "brackets.md"
    slow.write_text("> " * 2000 + "[" * 5000 + "x" + "]" * 5000 + "\n")
    with pytest.raises(DocumentError) as err:
        sandbox.parse(slow)
    assert err.value.message == (
        "Reading this file took longer than 3 s (RAG_FILE_TIMEOUT_S): it was skipped. Raise the limit to "
        "ingest it."
    )
    fine = tmp_path / "fine.txt"
    fine.write_text("The canteen opens at noon.")
    assert sandbox.parse(fine).blocks[0].text == "The canteen opens at noon."


def test_a_file_over_the_memory_budget_fails(tmp_path: Path) -> None:
    sandbox = ParseSandbox(timeout_s=300, max_memory_mb=900)  # an idle worker holds about 400 MB
    try:
        rows = "".join(f"{i},name {i},value {i * 3},note {i}\n" for i in range(400_000))
        path = tmp_path / "big.csv"
        path.write_text("a,b,c,d\n" + rows)
        with pytest.raises(DocumentError) as err:
            sandbox.parse(path)
        assert "needed more than 900 MB of memory (RAG_MAX_PARSE_MEMORY_MB)" in err.value.message
    finally:
        sandbox.close()


def test_parse_errors_come_back_as_they_are(sandbox: ParseSandbox, tmp_path: Path) -> None:
    empty = tmp_path / "empty.pdf"
    empty.write_bytes(b"")
    with pytest.raises(DocumentError) as err:
        sandbox.parse(empty)
    assert err.value.message == "The file is empty (0 bytes)."


def _slow_and_fast(tmp_path: Path) -> tuple[Path, Path]:
    slow = tmp_path / "brackets.md"
    slow.write_text("> " * 2000 + "[" * 5000 + "x" + "]" * 5000 + "\n")  # runs into its 4 s budget
    fast = tmp_path / "fast.txt"
    fast.write_text("The canteen opens at noon.")
    return slow, fast


def _finish_order(pool: ParsePool, slow: Path, fast: Path) -> list[str]:
    """Start the slow file, then the fast one on another thread; the order in which they finish."""
    finished: list[str] = []

    def parse(path: Path) -> None:
        with contextlib.suppress(DocumentError):
            pool.parse(path)
        finished.append(path.name)

    slow_thread = threading.Thread(target=parse, args=(slow,))
    slow_thread.start()
    while not any(s._worker is not None for s in pool._sandboxes):  # the slow file has its worker
        time.sleep(0.01)
    time.sleep(0.5)  # and is being read
    parse(fast)
    slow_thread.join()
    return finished


def test_a_pool_of_two_reads_a_file_while_another_is_stuck(tmp_path: Path) -> None:
    slow, fast = _slow_and_fast(tmp_path)
    pool = ParsePool(timeout_s=4, max_memory_mb=1200, workers=2)
    try:
        assert _finish_order(pool, slow, fast) == ["fast.txt", "brackets.md"]  # read by the other worker
    finally:
        pool.close()
    one = ParsePool(timeout_s=4, max_memory_mb=1200, workers=1)
    try:
        assert _finish_order(one, slow, fast) == ["brackets.md", "fast.txt"]  # it waited its turn
    finally:
        one.close()


def test_files_one_at_a_time_use_one_worker_process(tmp_path: Path) -> None:
    _, fast = _slow_and_fast(tmp_path)
    pool = ParsePool(timeout_s=30, max_memory_mb=1200, workers=4)
    try:
        for _ in range(3):
            assert pool.parse(fast).blocks[0].text == "The canteen opens at noon."
        assert sum(s._worker is not None for s in pool._sandboxes) == 1  # no cold worker started
    finally:
        pool.close()
