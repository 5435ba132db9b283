"""Bounded work per file: parsing runs in a child process with a time and a memory budget, so a slow or
huge file fails with a reason and the next file is read by a fresh worker."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ingest.parse import parse_file
from ingest.sandbox import ParseSandbox
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
