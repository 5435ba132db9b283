"""`rag serve` in its first hour: a second server on the same port or the same data dir fails at once
with one line that says what to do (no traceback, no "running on" banner first), and SIGTERM stops a
server within seconds."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from support.processes import free_port

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow  # each server loads MiniLM


def serve(env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "api.cli", "serve", "--port", str(port)], cwd=ROOT, env=env, stderr=out
        )


def test_a_second_server_fails_in_one_line_and_sigterm_stops_the_first(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")} | {
        "RAG_DATA_DIR": str(tmp_path / "data"),
        "RAG_EMBEDDER": "sentence-transformers:all-MiniLM-L6-v2",
        "RAG_LLM": "none",
        "RAG_AUTH_DISABLED": "true",
        "HF_HUB_OFFLINE": "1",
    }
    port = free_port()
    first = serve(env, port, tmp_path / "first.log")
    try:
        deadline = time.monotonic() + 120
        while True:
            assert first.poll() is None, (tmp_path / "first.log").read_text()
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the first server did not come up"
            time.sleep(0.3)

        same_port = subprocess.run(
            [sys.executable, "-m", "api.cli", "serve", "--port", str(port)],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert same_port.returncode == 1
        assert same_port.stderr.strip().splitlines() == [
            f"error: Cannot listen on 127.0.0.1:{port} (Address already in use): another program may be "
            "using the port. Choose another with --port or RAG_PORT."
        ]

        same_data = subprocess.run(
            [sys.executable, "-m", "api.cli", "serve", "--port", str(free_port())],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert same_data.returncode == 1
        [line] = same_data.stderr.strip().splitlines()
        assert line.startswith("error: The data dir ") and " is in use by `" in line
        assert "Traceback" not in same_data.stderr and "running on" not in same_data.stderr

        stopped = time.monotonic()
        first.send_signal(signal.SIGTERM)
        first.wait(30)
        assert time.monotonic() - stopped < 10
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
