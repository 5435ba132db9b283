"""The README is part of the product: two set-up commands, and every setting documented."""

from __future__ import annotations

import re
from pathlib import Path

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
