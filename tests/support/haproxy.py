"""A real haproxy running deploy/haproxy.cfg as shipped, its addresses from the environment (LB_*); a
second config file adds only an admin socket, for tests to read each replica's state and counters."""

from __future__ import annotations

import csv
import io
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from support.processes import free_port, stop

HAPROXY_CFG = Path(__file__).resolve().parents[2] / "deploy" / "haproxy.cfg"


def haproxy_binary() -> str:
    """Debian's haproxy, or a skip with the reason (a failure where RAG_REQUIRE_ALL_TESTS=1)."""
    found = shutil.which("haproxy") or ("/usr/sbin/haproxy" if Path("/usr/sbin/haproxy").exists() else None)
    if found is None:
        if os.environ.get("RAG_REQUIRE_ALL_TESTS") == "1":
            pytest.fail("haproxy is missing; scripts/test.sh installs Debian's haproxy package")
        pytest.skip("Debian's haproxy is not installed (scripts/test.sh installs it)")
    return found


class HAProxy:
    """haproxy in front of ``replicas`` (host:port, named api1, api2, ... in order)."""

    def __init__(self, replicas: list[str], health_key: str, workdir: Path) -> None:
        self.port = free_port()
        self.socket = workdir / "haproxy.sock"
        extra = workdir / "stats.cfg"
        extra.write_text(f'global\n    stats socket "{self.socket}" mode 600 level admin\n')
        env = dict(os.environ) | {
            "LB_BIND": f"127.0.0.1:{self.port}",
            "LB_HEALTH_KEY": health_key,
            **{f"LB_API{n}": address for n, address in enumerate(replicas, start=1)},
        }
        self.log = workdir / "haproxy.log"
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [haproxy_binary(), "-db", "-f", str(HAPROXY_CFG), "-f", str(extra)],
                env=env, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        stop(self.process, 10)

    def stats(self) -> dict[str, dict[str, str]]:
        """`show stat` per proxy/server: "rag_replicas/api1", "rag_replicas/BACKEND", "rag_api/FRONTEND"."""
        with socket.socket(socket.AF_UNIX) as admin:
            admin.connect(str(self.socket))
            admin.sendall(b"show stat\n")
            raw = b"".join(iter(lambda: admin.recv(65536), b""))
        rows = csv.DictReader(io.StringIO(raw.decode().lstrip("# ")))
        return {f"{row['pxname']}/{row['svname']}": row for row in rows}

    def status(self, server: str) -> str | None:
        """UP, DOWN, ... as haproxy sees the replica now (None before the admin socket is there)."""
        try:
            return self.stats()[f"rag_replicas/{server}"]["status"]
        except (OSError, KeyError):
            return None

    def wait_status(self, server: str, status: str, timeout_s: float = 120) -> None:
        deadline = time.monotonic() + timeout_s
        while self.status(server) != status:
            assert self.process.poll() is None, self.log.read_text()
            assert time.monotonic() < deadline, f"{server} never {status}:\n{self.log.read_text()[-3000:]}"
            time.sleep(0.2)
