"""One owner process per embedded data dir, and a clear message naming it when someone else tries.

Qdrant Edge locks its WAL too, but its error ("Can't init WAL: WouldBlock") tells a user nothing. Our
lock file records who holds it so the message can say which process and what to do instead.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from rag.errors import StoreLockedError

LOCK_NAME = "owner.lock"


def _describe_self() -> dict[str, object]:
    argv = [Path(sys.argv[0]).name, *sys.argv[1:]] if sys.argv and sys.argv[0] else ["python"]
    return {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "command": " ".join(argv)[:120],
        "since": datetime.now(UTC).isoformat(timespec="seconds"),
    }


class DataDirOwner:
    """Holds an exclusive, non-blocking lock on ``<data dir>/owner.lock`` until released.

    The kernel drops the lock when the process dies, so a crash never leaves the data dir locked.
    """

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / LOCK_NAME
        self._file: IO[str] | None = None

    def acquire(self) -> DataDirOwner:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("a+", encoding="utf-8")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read()
            handle.close()
            raise StoreLockedError(_locked_message(self.path.parent, holder)) from None
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps(_describe_self()))
        handle.flush()
        self._file = handle
        return self

    def release(self) -> None:
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.truncate(0)
                fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
            self._file.close()
            self._file = None


def _locked_message(data_dir: Path, holder_json: str) -> str:
    try:
        holder = json.loads(holder_json)
        who = f"`{holder['command']}` (pid {holder['pid']} on {holder['host']}, since {holder['since']})"
    except (ValueError, KeyError, TypeError):
        who = "another process"
    return (
        f"The data dir {data_dir} is in use by {who}. The embedded store has one owner process: "
        "use that process's REST API (e.g. `curl http://127.0.0.1:8000/v1/search`), or stop it and run "
        "this command again. To share one knowledge base between processes, run a Qdrant server and "
        "set RAG_QDRANT_URL."
    )
