"""Stopping the servers the tests start."""

from __future__ import annotations

import subprocess


def stop(process: subprocess.Popen[bytes] | subprocess.Popen[str], grace_s: float) -> None:
    """SIGTERM, then SIGKILL if the process has not exited within ``grace_s``."""
    process.terminate()
    try:
        process.wait(grace_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
