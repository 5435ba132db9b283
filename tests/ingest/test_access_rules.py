"""Access rules (ingest/access_rules.py) and how ingest labels, re-labels and hides documents.

The store is the real embedded Qdrant Edge; the embedder is the hashing bag-of-words, which counts what
it embeds, so "re-labelled with 0 embeddings" is measured, not assumed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from support.fakes import HashingEmbedder

from ingest.access_rules import AccessPolicy, parse_rules
from ingest.service import IngestService, Outcome
from rag.access import Principal
from rag.config import Settings
from rag.errors import ConfigError
from rag.knowledge_base import KnowledgeBase

ROOT = Path("/srv/docs")


def _decide(text: str, path: str, default: str = "everyone") -> tuple[tuple[str, ...], str]:
    decision = parse_rules(text, "access.toml", default, ROOT).decide(str(ROOT / path))
    return decision.access.groups, decision.rule


def test_the_most_specific_rule_wins_and_prefixes_match_whole_folders() -> None:
    rules = """
default = ["staff"]
[[rules]]
prefix = "hr"
groups = ["hr"]
[[rules]]
prefix = "hr/payroll/"
groups = ["payroll"]
[[rules]]
glob = "**/*.salary.xlsx"
groups = ["finance"]
"""
    assert _decide(rules, "hr/policy.md") == (("hr",), "rule 1 (prefix 'hr')")
    assert _decide(rules, "hr/payroll/2026.md")[0] == ("payroll",)
    assert _decide(rules, "hr/payroll/q1.salary.xlsx")[0] == ("finance",)  # 15 literal characters beat 11
    assert _decide(rules, "hrm/notes.md") == (("staff",), "default in access.toml")
    assert _decide(rules, "elsewhere.md")[0] == ("staff",)
    assert parse_rules(rules, "a.toml", "x", ROOT).decide("/other/hr/x.md").access.groups == ("staff",)


def test_globs_stay_within_folders_unless_told_otherwise_and_ties_go_to_the_later_rule() -> None:
    rules = """
[[rules]]
glob = "*/contracts/*.pdf"
groups = ["legal"]
[[rules]]
glob = "*/contracts/*.pdf"
groups = ["legal-2"]
"""
    assert _decide(rules, "sales/contracts/a.pdf")[0] == ("legal-2",)
    assert _decide(rules, "sales/contracts/old/a.pdf")[0] == ("everyone",)  # RAG_DEFAULT_ACCESS
    assert _decide(rules, "x/a.pdf", default="hr, Finance") == (("finance", "hr"), "RAG_DEFAULT_ACCESS")


def test_users_and_an_empty_default_mean_exactly_those_readers() -> None:
    rules = 'default = []\n[[rules]]\nprefix = "ceo"\nusers = ["CEO@Example.com"]\n'
    decision = parse_rules(rules, "a.toml", "everyone", ROOT).decide(str(ROOT / "ceo/board.pdf"))
    assert decision.access.labels() == ["user:ceo@example.com"]
    assert parse_rules(rules, "a.toml", "everyone", ROOT).decide(str(ROOT / "x")).access.labels() == []


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("[[rules]]\ngroups = ['hr']\n", "either `prefix` or `glob`"),
        ("[[rules]]\nprefix = 'a'\nglob = 'b'\n", "either `prefix` or `glob`"),
        ("[[rules]]\nprefix = 'a'\ngroup = ['hr']\n", "unknown key(s) group"),
        ("[[rules]]\nprefix = 'a'\ngroups = 'hr'\n", None),  # one name is fine
        ("[[rules]]\nprefix = 'a'\ngroups = [1]\n", "must be a list of names"),
        ("defaults = ['x']\n", "unknown setting(s) defaults"),
        ("[[rules]\n", "not valid TOML"),
    ],
)
def test_a_broken_rules_file_says_what_and_where(text: str, says: str | None) -> None:
    if says is None:
        parse_rules(text, "access.toml", "everyone", ROOT)
        return
    with pytest.raises(ConfigError) as err:
        parse_rules(text, "access.toml", "everyone", ROOT)
    assert says in err.value.message and "access.toml" in err.value.message


def test_relative_rules_need_a_root() -> None:
    with pytest.raises(ConfigError, match="no `root`"):
        parse_rules("[[rules]]\nprefix = 'hr'\ngroups = ['hr']\n", "a.toml", "everyone", None)


# -- ingest: labels, moves, rule changes ---------------------------------------------------------


class Rig:
    def __init__(self, tmp: Path) -> None:
        self.docs = tmp / "docs"
        for folder in ("public", "hr", "eng"):
            (self.docs / folder).mkdir(parents=True)
        self.rules = tmp / "access.toml"
        self.write_rules({"hr": ["hr"], "eng": ["eng"]})
        self.embedder = HashingEmbedder()
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None,
            data_dir=tmp / "data",
            embedder="sentence-transformers:unused",
            access_file=self.rules,
            watch_dir=self.docs,
        )
        self.kb = KnowledgeBase(settings, embedder=self.embedder)
        self.ingest = IngestService(self.kb)

    def write_rules(self, prefixes: dict[str, list[str]], default: list[str] | None = None) -> None:
        lines = [f"default = {json.dumps(default if default is not None else ['everyone'])}"]
        for prefix, groups in prefixes.items():
            lines += ["[[rules]]", f"prefix = {json.dumps(prefix)}", f"groups = {json.dumps(groups)}"]
        self.rules.write_text("\n".join(lines) + "\n", encoding="utf-8")
        stamp = self.rules.stat().st_mtime_ns + 1_000_000_000  # a new mtime even within one clock tick
        os.utime(self.rules, ns=(stamp, stamp))

    def visible(self, groups: list[str], query: str = "code") -> set[str]:
        principal = Principal(key="t", role="reader", groups=frozenset(groups))
        hits = self.kb.retriever().search(query, top_k=20, filters=principal.scope())
        return {Path(h.chunk.source).name for h in hits}


@pytest.fixture(name="rig")
def rig_fixture(tmp_path: Path) -> Iterator[Rig]:
    rig = Rig(tmp_path)
    yield rig
    rig.ingest.close()
    rig.kb.close()


def test_moving_a_file_from_public_to_hr_relabels_it_with_no_embedding_and_hides_it_at_once(rig: Rig) -> None:
    (rig.docs / "public" / "plan.md").write_text("# Plan\n\nThe reorganisation code is ELM42.\n")
    (rig.docs / "public" / "menu.md").write_text("# Menu\n\nThe canteen code is OAK7.\n")
    rig.ingest.sync([rig.docs])
    assert rig.visible([]) == {"plan.md", "menu.md"}
    embedded = rig.embedder.documents_embedded
    (rig.docs / "public" / "plan.md").rename(rig.docs / "hr" / "plan.md")
    assert rig.ingest.move(rig.docs / "public" / "plan.md", rig.docs / "hr" / "plan.md") == Outcome.MOVED
    assert rig.embedder.documents_embedded == embedded
    assert rig.visible([]) == {"menu.md"}
    assert rig.visible(["hr"]) == {"menu.md", "plan.md"}
    record = rig.ingest.ledger.by_source(str((rig.docs / "hr" / "plan.md").resolve()))
    assert record is not None and record.access == ["group:hr"]


def test_an_edited_rule_relabels_every_document_it_touches_and_nothing_is_embedded(rig: Rig) -> None:
    (rig.docs / "eng" / "deploy.md").write_text("# Deploy\n\nThe deploy code is ASH3.\n")
    (rig.docs / "hr" / "pay.md").write_text("# Pay\n\nThe pay code is YEW9.\n")
    rig.ingest.sync([rig.docs])
    assert rig.visible(["eng"]) == {"deploy.md"}
    embedded = rig.embedder.documents_embedded
    rig.write_rules({"hr": ["hr"], "eng": ["eng", "contractors"]})
    assert rig.ingest.access_rules_changed()
    assert rig.ingest.apply_access_rules() == 1
    assert rig.embedder.documents_embedded == embedded
    assert rig.visible(["contractors"]) == {"deploy.md"}
    assert not rig.ingest.access_rules_changed() and rig.ingest.apply_access_rules() == 0
    # A broken edit keeps the rules in force rather than opening (or closing) every document.
    rig.rules.write_text("[[rules]\n")
    assert rig.visible(["contractors"]) == {"deploy.md"} and rig.ingest.apply_access_rules() == 0


def test_an_upload_may_say_who_reads_it_and_a_later_upload_without_it_returns_to_the_rules(rig: Rig) -> None:
    upload = rig.docs / "public" / "memo.md"
    upload.write_text("# Memo\n\nThe memo code is FIR5.\n")
    rig.ingest.ingest_file(upload, access=["group:board"], set_access=True)
    assert rig.visible([]) == set() and rig.visible(["board"]) == {"memo.md"}
    rig.ingest.apply_access_rules()  # the override outlives rule changes
    assert rig.visible(["board"]) == {"memo.md"}
    embedded = rig.embedder.documents_embedded
    rig.ingest.ingest_file(upload, access=None, set_access=True)
    assert rig.embedder.documents_embedded == embedded
    assert rig.visible([]) == {"memo.md"}


FOLDERS = ["a", "b", "a/x", "b/y", "c"]
GROUP_NAMES = ["g1", "g2", "g3", "g4"]


@hypothesis_settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rules=st.dictionaries(st.sampled_from(FOLDERS), st.lists(st.sampled_from(GROUP_NAMES), max_size=2)),
    default=st.lists(st.sampled_from([*GROUP_NAMES, "everyone"]), max_size=2),
    caller=st.lists(st.sampled_from(GROUP_NAMES), max_size=3),
    question=st.sampled_from(["code", "alpha code", "beta", "the code of folder c", "x y"]),
)
def test_property_a_search_returns_only_what_the_rules_let_the_caller_read(
    populated: Rig, rules: dict[str, list[str]], default: list[str], caller: list[str], question: str
) -> None:
    populated.write_rules(rules, default)
    populated.ingest.apply_access_rules()
    readable = {
        name
        for name, folder in _FILES.items()
        if set(_oracle(rules, default, folder)) & {"everyone", *caller}
    }
    assert populated.visible(caller, question) <= readable
    assert populated.visible(caller, "code") == readable  # every file says "code": all of them match


_FILES = {f"{folder.replace('/', '-')}-{n}.md": folder for folder in FOLDERS for n in range(2)}


def _oracle(rules: dict[str, list[str]], default: list[str], folder: str) -> list[str]:
    """Who reads a file in ``folder``: the longest matching folder rule, else the default."""
    matching = [prefix for prefix in rules if folder == prefix or folder.startswith(prefix + "/")]
    return rules[max(matching, key=len)] if matching else default


@pytest.fixture(name="populated", scope="module")
def populated_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    rig = Rig(tmp_path_factory.mktemp("property"))
    words = ["alpha", "beta", "gamma", "delta", "epsilon"]
    for n, (name, folder) in enumerate(_FILES.items()):
        (rig.docs / folder).mkdir(parents=True, exist_ok=True)
        (rig.docs / folder / name).write_text(f"# {name}\n\nThe {words[n % 5]} code of folder {folder}.\n")
    rig.ingest.sync([rig.docs])
    yield rig
    rig.ingest.close()
    rig.kb.close()


def test_the_access_policy_reads_the_file_again_only_when_it_changed(tmp_path: Path) -> None:
    rules = tmp_path / "access.toml"
    rules.write_text('default = ["a"]\n')
    policy = AccessPolicy(
        Settings(_env_file=None, data_dir=tmp_path, access_file=rules)  # type: ignore[call-arg]
    )
    first = policy.rules
    assert policy.rules is first
    rules.write_text('default = ["b"]\n')
    os.utime(rules, ns=(1, 1))
    assert policy.rules.default.groups == ("b",) and policy.rules.version != first.version
