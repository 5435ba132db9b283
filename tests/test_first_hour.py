"""A new user's first hour, as the README leads it: the knowledge base does not depend on the folder
`rag` runs from, and after the quick start the README's "Use" commands work on what it ingested."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow  # MiniLM embeds the documents


def user_env(home: Path) -> dict[str, str]:
    """A user with no RAG_ settings of their own, and their own ~/.config and ~/.local/share."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env |= {"XDG_CONFIG_HOME": str(home / ".config"), "XDG_DATA_HOME": str(home / ".local" / "share")}
    env |= {"HF_HUB_OFFLINE": "1", "RAG_OLLAMA_HOST": "http://127.0.0.1:9"}  # no Ollama: fail fast
    return env


def rag(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "api.cli", *args], cwd=cwd, env=env | {"PYTHONPATH": str(ROOT)},
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip


def test_the_knowledge_base_is_the_same_from_any_folder(tmp_path: Path) -> None:
    env = user_env(tmp_path / "home") | {"RAG_EMBEDDER": "sentence-transformers:all-MiniLM-L6-v2"}
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    docs = tmp_path / "a" / "docs"
    docs.mkdir()
    (docs / "canteen.md").write_text("# Canteen\n\nThe canteen opens at noon on weekdays.\n")

    ingested = rag(env, tmp_path / "a", "ingest", "docs", "--json")
    assert ingested.returncode == 0, ingested.stderr
    listed = rag(env, tmp_path / "b", "docs", "--json")
    assert [Path(d["source"]).name for d in json.loads(listed.stdout)["documents"]] == ["canteen.md"]
    removed = rag(env, tmp_path / "b", "rm", str(docs / "canteen.md"), "--json")
    assert removed.returncode == 0, removed.stderr
    assert (tmp_path / "home" / ".local" / "share" / "private-rag").is_dir()
    assert not (tmp_path / "a" / "data").exists() and not (tmp_path / "b" / "data").exists()


def test_after_the_quick_start_the_readme_commands_use_its_knowledge_base(tmp_path: Path) -> None:
    env = user_env(tmp_path / "home")
    quick = subprocess.run(
        ["bash", "scripts/quickstart.sh"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800
    )
    assert quick.returncode == 0, quick.stderr[-3000:]
    assert "Next (settings saved in" in quick.stdout and "rag search" in quick.stdout
    saved = (tmp_path / "home" / ".config" / "private-rag" / "env").read_text()
    assert "RAG_COLLECTION=quickstart" in saved

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    hits = json.loads(rag(env, elsewhere, "search", "VPN gateway", "--json").stdout)["hits"]
    assert hits and Path(hits[0]["source"]).parent == ROOT / "sample_docs"
    listed = json.loads(rag(env, elsewhere, "docs", "--json").stdout)["documents"]
    assert len(listed) >= 15
