"""The embedded store has one owner process; a second one is refused at once, with a useful message."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from rag.config import Settings
from rag.errors import StoreLockedError
from rag.store import open_store
from rag.types import StoreSpec

SPEC = StoreSpec("test:embedder", 4)


def test_second_process_fails_fast_naming_the_owner(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import sys, time
                from rag.config import Settings
                from rag.store import open_store
                from rag.types import StoreSpec
                sys.argv = ["rag", "serve"]
                store = open_store(Settings(data_dir={str(tmp_path)!r}, embedder="ollama:x", _env_file=None),
                                   StoreSpec("test:embedder", 4))
                print("ready", flush=True)
                time.sleep(60)
                """
            ),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        settings = Settings(data_dir=tmp_path, embedder="ollama:x", _env_file=None)  # type: ignore[call-arg]
        started = time.monotonic()
        with pytest.raises(StoreLockedError) as err:
            open_store(settings, SPEC)
        assert time.monotonic() - started < 2  # never waits
        assert f"pid {holder.pid}" in err.value.message
        assert "`rag serve`" in err.value.message
        assert "REST API" in err.value.message and "RAG_QDRANT_URL" in err.value.message
    finally:
        holder.kill()
        holder.wait()
    # The kernel released the lock with the dead process: the store opens again, data intact.
    store = open_store(Settings(data_dir=tmp_path, embedder="ollama:x", _env_file=None), SPEC)  # type: ignore[call-arg]
    assert store.spec == SPEC
    store.close()


def test_same_process_second_open_is_refused_too(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, embedder="ollama:x", _env_file=None)  # type: ignore[call-arg]
    store = open_store(settings, SPEC)
    try:
        with pytest.raises(StoreLockedError):
            open_store(settings, SPEC)
    finally:
        store.close()
    open_store(settings, SPEC).close()
