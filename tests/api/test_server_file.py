"""``server.json``: a running `rag serve` names itself in its data dir; a file that names a dead process,
another collection or another machine is ignored, and the `rag` command then runs on its own."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from api.cli import cli
from api.server_file import SERVER_FILE, advertise, find_server, server_url, withdraw
from rag.config import Settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", _env_file=None)  # type: ignore[call-arg]


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def write(settings: Settings, **fields: object) -> None:
    info = {"url": "http://127.0.0.1:9", "pid": os.getpid(), "host": socket.gethostname()}
    info |= {"collection": settings.collection} | fields
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    (settings.data_dir / SERVER_FILE).write_text(json.dumps(info))


def test_a_server_names_itself_and_withdraws_only_its_own_name(settings: Settings) -> None:
    advertise(settings, "http://127.0.0.1:8123")
    info = find_server(settings)
    assert info is not None
    assert (info.url, info.pid, info.collection) == ("http://127.0.0.1:8123", os.getpid(), "private_rag")
    assert [p.name for p in settings.data_dir.iterdir()] == [SERVER_FILE]  # no temporary file left

    withdraw(settings)
    assert not (settings.data_dir / SERVER_FILE).exists()

    write(settings, pid=os.getppid())  # a later server's file
    withdraw(settings)
    assert (settings.data_dir / SERVER_FILE).exists()


def test_a_file_naming_a_dead_process_another_collection_or_machine_is_ignored(settings: Settings) -> None:
    write(settings, pid=dead_pid())
    assert find_server(settings) is None
    write(settings, collection="another")
    assert find_server(settings) is None
    write(settings, host="some-other-machine")
    assert find_server(settings) is None
    (settings.data_dir / SERVER_FILE).write_text('{"url": "http://127.0.0.1:9"')  # torn
    assert find_server(settings) is None
    write(settings)
    assert find_server(settings) is not None


def test_a_wildcard_address_is_reached_through_loopback() -> None:
    assert server_url("0.0.0.0", 8000) == "http://127.0.0.1:8000"
    assert server_url("::", 8000) == "http://[::1]:8000"
    assert server_url("10.1.2.3", 80) == "http://10.1.2.3:80"
    assert server_url("::1", 8000) == "http://[::1]:8000"


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """An address that accepts connections and never answers: where a stale file points."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        sock.setblocking(False)
        yield sock


def test_the_command_ignores_a_stale_file_and_runs_on_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, listener: socket.socket
) -> None:
    for key in [k for k in os.environ if k.startswith("RAG_")]:
        monkeypatch.delenv(key)
    data = tmp_path / "data"
    monkeypatch.setenv("RAG_DATA_DIR", str(data))
    monkeypatch.chdir(tmp_path)
    port = listener.getsockname()[1]
    write(
        Settings(_env_file=None),  # type: ignore[call-arg]
        url=f"http://127.0.0.1:{port}",
        pid=dead_pid(),  # a server that was killed: it could not remove its file
    )

    result = CliRunner().invoke(cli, ["docs", "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"documents": []}
    with pytest.raises(BlockingIOError):
        listener.accept()  # nobody knocked at the address the stale file names
