"""``server.json`` in the data dir: how a running `rag serve` tells the `rag` command where it listens.

The server writes it once it accepts connections and removes it when it stops; a file left by a server
that was killed names a dead process and is ignored. It holds no secret (url, pid, host, collection).
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass
from pathlib import Path

from rag.config import Settings

SERVER_FILE = "server.json"


@dataclass(frozen=True, slots=True)
class ServerInfo:
    url: str
    pid: int
    host: str  # the machine: a pid means nothing on another one
    collection: str

    def describe(self) -> str:
        return f"`rag serve` at {self.url} (pid {self.pid})"


def server_url(host: str, port: int) -> str:
    """Where a client on this machine reaches a server listening on ``host``: a wildcard address is
    reached through loopback."""
    host = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def advertise(settings: Settings, url: str) -> None:
    """Written by `rag serve` once it accepts connections; atomically, so a reader never sees half."""
    info = {"url": url, "pid": os.getpid(), "host": socket.gethostname(), "collection": settings.collection}
    path = settings.data_dir / SERVER_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{SERVER_FILE}.{os.getpid()}")
    partial.write_text(json.dumps(info), encoding="utf-8")
    os.replace(partial, path)


def withdraw(settings: Settings) -> None:
    """Removed on a clean shutdown, and only if it is still this process's (not a later server's)."""
    path = settings.data_dir / SERVER_FILE
    info = _read(path)
    if info is not None and info.pid == os.getpid():
        path.unlink(missing_ok=True)


def _read(path: Path) -> ServerInfo | None:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return ServerInfo(str(raw["url"]), int(raw["pid"]), str(raw["host"]), str(raw["collection"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def find_server(settings: Settings) -> ServerInfo | None:
    """The server that named itself in the data dir, if it serves this collection and its process is
    alive on this machine; a file left by a server that was killed is ignored."""
    info = _read(settings.data_dir / SERVER_FILE)
    if info is None or info.collection != settings.collection or info.host != socket.gethostname():
        return None
    return info if _alive(info.pid) else None


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process, alive
    return True
