"""The built wheel, installed into a fresh venv with nothing but `pip install <wheel>[offline]`,
ingests a PDF and finds it: the package ships every module and declares what it imports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from support.documents import write_pdf

ROOT = Path(__file__).resolve().parent.parent


def run(*command: str | Path, cwd: Path = ROOT, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [str(c) for c in command], cwd=cwd, env=env, capture_output=True, text=True, timeout=1200
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    return result.stdout


@pytest.mark.slow  # installs PyTorch and the quick-start model into a new venv (about 3 minutes)
def test_the_built_wheel_installs_into_a_fresh_venv_and_ingests_a_pdf(tmp_path: Path) -> None:
    pip = ("-m", "pip", "--disable-pip-version-check", "-q")
    run(sys.executable, *pip, "wheel", "--no-deps", "--no-build-isolation", "-w", tmp_path / "dist", ".")
    [wheel] = (tmp_path / "dist").glob("private_rag-*.whl")
    run(sys.executable, "-m", "venv", tmp_path / "venv")
    python = tmp_path / "venv" / "bin" / "python"
    run(python, *pip, "install", f"{wheel}[offline]")
    # Nothing of unstructured's layout-model stack came along (it would drag CUDA torch and timm).
    present = run(python, "-m", "pip", "--disable-pip-version-check", "list", "--format=json")
    names = {p["name"].lower() for p in json.loads(present)}
    assert not names & {"unstructured-inference", "unstructured-pytesseract", "timm", "torchvision"}

    docs = tmp_path / "docs"
    docs.mkdir()
    write_pdf(
        docs / "handbook.pdf", ["Welcome.", "Sick leave\n\nReport sick leave to your manager before 9:00."]
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")} | {
        "RAG_DATA_DIR": str(tmp_path / "data"),
        "RAG_EMBEDDER": "sentence-transformers:all-MiniLM-L6-v2",
        "HF_HUB_OFFLINE": "1",
    }
    rag = tmp_path / "venv" / "bin" / "rag"
    report = json.loads(run(rag, "ingest", docs, "--json", cwd=tmp_path, env=env))
    assert (report["added"], report["failed"]) == (1, [])
    hits = json.loads(run(rag, "search", "when to report sick leave", "--json", cwd=tmp_path, env=env))[
        "hits"
    ]
    assert hits[0]["page"] == 2 and "before 9:00" in hits[0]["text"]
