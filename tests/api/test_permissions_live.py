"""Permissions while the server runs: the watcher moves a file into a restricted folder, the rules file
is edited, a user leaves an LDAP group (a real slapd). Each time, what callers see follows within
seconds, and nothing is embedded again."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from support.fakes import HashingEmbedder
from support.keys import write_keys_file
from support.slapd import (  # noqa: F401  (slapd_server is a fixture)
    READER_DN,
    READER_PASSWORD,
    SlapdServer,
    person_dn,
    slapd_server,
)

from api.app import create_app
from rag.config import Settings

KEYS = {
    "admin": ("admin", []),
    "hr-reader": ("reader", ["hr"]),
    "eng-reader": ("reader", ["eng"]),
    "none": ("reader", []),
}


def _key(name: str) -> str:
    return f"live-{name}-91c3"


def _headers(name: str, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {_key(name)}", **extra}


def _keys_file(tmp: Path) -> Path:
    return write_keys_file(tmp / "keys.toml", {n: (_key(n), role, g) for n, (role, g) in KEYS.items()})


def _rules(path: Path, root: Path, hr_groups: list[str]) -> None:
    path.write_text(
        f'root = {json.dumps(str(root))}\ndefault = ["everyone"]\n'
        f'[[rules]]\nprefix = "hr"\ngroups = {json.dumps(hr_groups)}\n'
    )
    stamp = time.time_ns() + 10**9  # a new mtime even within one clock tick
    os.utime(path, ns=(stamp, stamp))


def _names(client: TestClient, headers: dict[str, str], query: str = "code") -> set[str]:
    response = client.post("/v1/search", json={"query": query, "top_k": 20}, headers=headers)
    assert response.status_code == 200, response.text
    return {Path(hit["source"]).name for hit in response.json()["hits"]}


def _eventually(check: Callable[[], bool], timeout_s: float = 90.0) -> bool:
    """Waits for the watcher (a first parse starts its sandbox): generous, since a loaded 2-core
    machine took over 20 s, and it returns as soon as the check holds."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return check()


@pytest.fixture(name="live")
def live_fixture(tmp_path: Path) -> Iterator[tuple[TestClient, Path, Path, HashingEmbedder]]:
    docs = tmp_path / "docs"
    (docs / "public").mkdir(parents=True)
    (docs / "hr").mkdir()
    (docs / "public" / "plan.md").write_text("# Plan\n\nThe reorganisation code is ELM42.\n")
    (docs / "public" / "menu.md").write_text("# Menu\n\nThe canteen code is OAK7.\n")
    rules = tmp_path / "access.toml"
    _rules(rules, docs, ["hr"])
    embedder = HashingEmbedder()
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        data_dir=tmp_path / "data",
        embedder="sentence-transformers:unused",
        llm="none",
        api_keys_file=_keys_file(tmp_path),
        access_file=rules,
        watch_dir=docs,
        watch_debounce_s=0.2,
    )
    with TestClient(create_app(settings, embedder=embedder)) as client:
        assert _eventually(lambda: _names(client, _headers("admin")) == {"plan.md", "menu.md"})
        yield client, docs, rules, embedder


def test_a_file_moved_into_hr_is_hidden_from_everyone_else_without_embedding_it_again(
    live: tuple[TestClient, Path, Path, HashingEmbedder],
) -> None:
    client, docs, _, embedder = live
    assert _names(client, _headers("none")) == {"plan.md", "menu.md"}
    embedded = embedder.documents_embedded
    (docs / "public" / "plan.md").rename(docs / "hr" / "plan.md")
    assert _eventually(lambda: _names(client, _headers("none")) == {"menu.md"})
    assert _names(client, _headers("hr-reader")) == {"plan.md", "menu.md"}
    assert _names(client, _headers("eng-reader")) == {"menu.md"}
    assert embedder.documents_embedded == embedded


def test_an_edited_rules_file_is_applied_by_the_running_server(
    live: tuple[TestClient, Path, Path, HashingEmbedder],
) -> None:
    client, docs, rules, embedder = live
    (docs / "public" / "plan.md").rename(docs / "hr" / "plan.md")
    assert _eventually(lambda: _names(client, _headers("eng-reader")) == {"menu.md"})
    embedded = embedder.documents_embedded
    _rules(rules, docs, ["hr", "eng"])
    assert _eventually(lambda: _names(client, _headers("eng-reader")) == {"plan.md", "menu.md"})
    _rules(rules, docs, [])  # nobody but admins
    assert _eventually(lambda: _names(client, _headers("hr-reader")) == {"menu.md"})
    assert _names(client, _headers("admin")) == {"plan.md", "menu.md"}
    assert embedder.documents_embedded == embedded


def test_a_user_removed_from_an_ldap_group_loses_access_within_the_cache_ttl(
    tmp_path: Path,
    slapd_server: SlapdServer,  # noqa: F811
) -> None:
    docs = tmp_path / "docs"
    (docs / "hr").mkdir(parents=True)
    (docs / "hr" / "pay.md").write_text("# Pay\n\nThe pay review code is YEW9.\n")
    (docs / "menu.md").write_text("# Menu\n\nThe canteen code is OAK7.\n")
    rules = tmp_path / "access.toml"
    _rules(rules, docs, ["hr"])
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        data_dir=tmp_path / "data",
        embedder="sentence-transformers:unused",
        llm="none",
        api_keys_file=_keys_file(tmp_path),
        access_file=rules,
        watch_dir=docs,
        watch_debounce_s=0.2,
        ldap_url=slapd_server.url,
        ldap_bind_dn=READER_DN,
        ldap_bind_password=SecretStr(READER_PASSWORD),
        ldap_base_dn=slapd_server.base_dn,
        ldap_cache_ttl_s=1.0,
    )
    alice = _headers("admin", **{"X-Act-As-User": "alice@example.com"})
    with TestClient(create_app(settings, embedder=HashingEmbedder())) as client:
        assert _eventually(lambda: _names(client, _headers("admin")) == {"pay.md", "menu.md"})
        assert _names(client, alice) == {"pay.md", "menu.md"}  # alice is in hr on the LDAP server
        slapd_server.remove_member("hr", person_dn("alice"))
        try:
            started = time.monotonic()
            assert _eventually(lambda: _names(client, alice) == {"menu.md"}, timeout_s=10)
            assert time.monotonic() - started < 1.0 + 2.0  # the TTL, and some slack for a busy machine
        finally:
            slapd_server.add_member("hr", person_dn("alice"))
