"""The CLI and permissions: `--as USER` on search, ask and docs, `rag access check`, `rag audit verify`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from api.audit import AuditEvent, AuditLog
from api.cli import cli


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture(name="company")
def company_fixture(rag_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    docs = tmp_path / "docs"
    (docs / "hr").mkdir(parents=True)
    (docs / "hr" / "salaries.md").write_text("# Salaries\n\nThe salary review happens every March.\n")
    (docs / "canteen.md").write_text("# Canteen\n\nThe canteen opens at noon every weekday.\n")
    rules = tmp_path / "access.toml"
    rules.write_text(f'root = {json.dumps(str(docs))}\n[[rules]]\nprefix = "hr"\ngroups = ["hr"]\n')
    groups = tmp_path / "groups.toml"
    groups.write_text('[groups]\nhr = ["alice@example.com"]\n')
    monkeypatch.setenv("RAG_ACCESS_FILE", str(rules))
    monkeypatch.setenv("RAG_GROUPS_FILE", str(groups))
    monkeypatch.setenv("RAG_LLM", "none")
    assert run("ingest", str(docs)).exit_code == 0
    return docs


def test_as_user_narrows_search_ask_and_docs_to_what_that_user_may_read(company: Path) -> None:
    def sources(result: Result) -> set[str]:
        return {Path(h["source"]).name for h in json.loads(result.output)["hits"]}

    assert sources(run("search", "salary review", "--json", "-k", "5")) == {"salaries.md", "canteen.md"}
    assert sources(run("search", "salary review", "--json", "--as", "alice@example.com")) == {
        "salaries.md",
        "canteen.md",
    }
    assert sources(run("search", "salary review", "--json", "--as", "bob@example.com")) == {"canteen.md"}
    docs = json.loads(run("docs", "--json", "--as", "bob@example.com").output)["documents"]
    assert [Path(d["source"]).name for d in docs] == ["canteen.md"]
    answer = json.loads(run("ask", "When is the salary review?", "--json", "--as", "bob@example.com").output)
    assert "salaries" not in json.dumps(answer) and "March" not in json.dumps(answer)


def test_access_check_says_who_reads_a_file_and_which_rule_decided(company: Path) -> None:
    result = run("access", "check", str(company / "hr" / "salaries.md"), "--user", "bob@example.com")
    assert result.exit_code == 0
    assert "readable by: group hr" in result.output and "rule 1 (prefix 'hr')" in result.output
    assert "bob@example.com (no groups) may NOT read it." in result.output
    data = json.loads(run("access", "check", str(company / "canteen.md"), "--json").output)
    assert data["groups"] == ["everyone"] and data["rule"] == "RAG_DEFAULT_ACCESS" and data["labels_applied"]


def test_audit_verify_finds_a_removed_line(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    with AuditLog(path) as log:
        for n in range(5):
            log.record(AuditEvent("search", f"r{n}", "key", None, [], "admin", question=f"q{n}"))
    ok = run("audit", "verify", str(path))
    assert ok.exit_code == 0 and ok.output.startswith("OK")
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:2] + lines[3:]))
    broken = CliRunner().invoke(cli, ["audit", "verify", str(path)])
    assert broken.exit_code == 1 and "BROKEN" in broken.output and "line 3" in broken.output
