"""The README is part of the product: two set-up commands, and every setting documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rag.config import Settings

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_every_setting_is_in_the_configuration_table() -> None:
    for name in Settings.model_fields:
        assert f"`RAG_{name.upper()}`" in README, f"RAG_{name.upper()} is not documented in README.md"


def test_set_up_section_has_exactly_two_commands_and_ci_runs_the_test_one() -> None:
    section = README.split("## Set up", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)```", section, re.S)
    assert block is not None
    commands = [line.split("#", 1)[0].strip() for line in block.group(1).splitlines() if line.strip()]
    assert commands == ["bash scripts/quickstart.sh", "bash scripts/test.sh"]
    assert "scripts/test.sh" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


@pytest.mark.slow  # `rag serve` in a subprocess loads MiniLM
def test_curl_examples_work_as_written_against_rag_serve(tmp_path: Path) -> None:
    """Start `rag serve` the README's way and run each curl line of the REST API section."""
    import json
    import os
    import shlex
    import subprocess
    import sys
    import time

    from support.processes import free_port

    section = README.split("## REST API", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", section, re.S)
    curls = [line for line in blocks[1].splitlines() if line.startswith("curl ")]
    assert len(curls) >= 8
    port = free_port()
    env = {
        **os.environ,
        "RAG_API_KEYS": "change-me",
        "RAG_DATA_DIR": str(tmp_path / "data"),
        "RAG_EMBEDDER": "sentence-transformers:all-MiniLM-L6-v2",
        "RAG_LLM": "none",
        "RAG_PORT": str(port),
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "serve"], cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 90
        while subprocess.run(
            ["curl", "-sf", f"http://127.0.0.1:{port}/health"], capture_output=True
        ).returncode:
            assert server.poll() is None, server.stderr.read() if server.stderr else ""
            assert time.monotonic() < deadline, "rag serve did not come up"
            time.sleep(0.5)
        outputs = []
        for line in curls:
            args = shlex.split(line.replace("127.0.0.1:8000", f"127.0.0.1:{port}"))
            done = subprocess.run(
                [*args, "-w", "\n%{http_code}"], cwd=ROOT, capture_output=True, text=True, timeout=120
            )
            body, _, status = done.stdout.rpartition("\n")
            assert status == "200" or (status == "201" and "-F" in args), (line, status, body)
            outputs.append(body)
        upload = json.loads(outputs[1])
        assert upload["outcome"] == "added" and upload["document"]["source"].endswith("expense_policy.md")
        answer = json.loads(outputs[4])
        assert any(c["source"].endswith("expense_policy.md") for c in answer["citations"])
        assert "event: answer" in outputs[5]
    finally:
        server.terminate()
        server.wait(20)
