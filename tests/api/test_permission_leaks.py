"""The leak matrix: every principal x every endpoint that returns document content or metadata x
documents under different access rules; nothing of a document a principal may not read may appear in
any response: not its text, its file name, its id, its chunk ids.

The whole production path runs (create_app, the embedded Qdrant Edge store, the ingest pipeline, the
keys file, the group file, the access rules). The answering model is the in-test Ollama-protocol
server scripted to *echo its whole prompt back*, so a passage that reached the prompt shows up in the
answer. The embedder is the hashing bag-of-words (tests/support/fakes.py): what is under test is who
sees what, not how well passages are ranked, and the fast tier loads no model.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import jwt
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from support.fakes import HashingEmbedder
from support.keys import write_keys_file
from support.ollama_server import OllamaProtocolServer

from api.app import create_app
from ingest.service import IngestService
from rag.config import Settings
from rag.knowledge_base import KnowledgeBase

JWT_SECRET = "owui-forward-secret-for-tests-0123456789"


@dataclass(frozen=True)
class Doc:
    path: str  # relative to the docs folder
    text: str
    code: str  # a word found in this document only

    @property
    def name(self) -> str:
        return Path(self.path).name


DOCS = [
    Doc(
        "hr/salary-bands-hr.md",
        "# Salary bands\n\nThe salary band review code is ORCHIDHR4471.",
        "ORCHIDHR4471",
    ),
    Doc(
        "eng/deploy-runbook-eng.md",
        "# Deploy runbook\n\nThe deploy review code is FALCONENG9138.",
        "FALCONENG9138",
    ),
    Doc(
        "public/holidays-public.md", "# Holidays\n\nThe holiday review code is MAPLEPUB2210.", "MAPLEPUB2210"
    ),
    Doc(
        "personal/alice-notes.md",
        "# Notes\n\nThe personal review code is WILLOWALICE5521.",
        "WILLOWALICE5521",
    ),
    Doc("misc/unfiled-board.md", "# Board\n\nThe board review code is CEDARBOARD7788.", "CEDARBOARD7788"),
]
ACCESS_RULES = """
default = []
[[rules]]
prefix = "hr"
groups = ["hr"]
[[rules]]
prefix = "eng/"
groups = ["eng"]
[[rules]]
prefix = "public"
groups = ["everyone"]
[[rules]]
glob = "personal/alice-*"
users = ["alice@example.com"]
"""
GROUPS = """
[groups]
hr = ["alice@example.com"]
eng = ["bob@example.com"]
"""


@dataclass(frozen=True)
class Caller:
    name: str
    headers: dict[str, str]
    readable: frozenset[str]  # Doc.path
    admin: bool = False


def _key(name: str) -> str:
    return f"key-{name}-5f1e2d"


KEYS = [
    ("admin", "admin", []),
    ("hr-reader", "reader", ["hr"]),
    ("eng-reader", "reader", ["eng"]),
    ("no-group", "reader", []),
    ("open-webui", "service", []),
]


def _owui_token(email: str) -> str:
    now = int(time.time())
    claims = {
        "sub": "u-" + email,
        "email": email,
        "name": email,
        "role": "user",
        "iat": now,
        # CALLERS are built when the module is collected; a whole suite can take longer than minutes to
        # reach these tests, and an expired token is a 401 (tested on its own below).
        "exp": now + 86_400,
    }
    return jwt.encode(claims, JWT_SECRET, algorithm="HS256")


def _bearer(name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {_key(name)}"}


ALL = frozenset(d.path for d in DOCS)
CALLERS = [
    Caller("admin", _bearer("admin"), ALL, admin=True),
    Caller(
        "hr reader", _bearer("hr-reader"), frozenset({"hr/salary-bands-hr.md", "public/holidays-public.md"})
    ),
    Caller(
        "eng reader",
        _bearer("eng-reader"),
        frozenset({"eng/deploy-runbook-eng.md", "public/holidays-public.md"}),
    ),
    Caller("reader in no group", _bearer("no-group"), frozenset({"public/holidays-public.md"})),
    Caller(
        "Open WebUI acting for alice (hr)",
        {**_bearer("open-webui"), "X-OpenWebUI-User-Jwt": _owui_token("alice@example.com")},
        frozenset({"hr/salary-bands-hr.md", "public/holidays-public.md", "personal/alice-notes.md"}),
    ),
    Caller(
        "Open WebUI acting for bob (eng)",
        {**_bearer("open-webui"), "X-OpenWebUI-User-Jwt": _owui_token("bob@example.com")},
        frozenset({"eng/deploy-runbook-eng.md", "public/holidays-public.md"}),
    ),
    Caller(
        "Open WebUI for itself (no user)", _bearer("open-webui"), frozenset({"public/holidays-public.md"})
    ),
    Caller(
        "admin narrowed to bob",
        {**_bearer("admin"), "X-Act-As-User": "bob@example.com"},
        frozenset({"eng/deploy-runbook-eng.md", "public/holidays-public.md"}),
    ),
]


@dataclass
class World:
    client: TestClient
    docs_dir: Path
    markers: dict[str, set[str]]  # Doc.path -> strings that identify it (text, name, ids)
    doc_ids: dict[str, str]  # Doc.path -> doc id


def _write_config(tmp: Path, docs_dir: Path) -> tuple[Path, Path, Path]:
    keys = write_keys_file(tmp / "keys.toml", {name: (_key(name), role, g) for name, role, g in KEYS})
    groups = tmp / "groups.toml"
    groups.write_text(GROUPS, encoding="utf-8")
    rules = tmp / "access.toml"
    rules.write_text(f"root = {json.dumps(str(docs_dir))}\n" + ACCESS_RULES, encoding="utf-8")
    return keys, groups, rules


@pytest.fixture(name="world", scope="module")
def world_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("leaks")
    docs_dir = tmp / "docs"
    for doc in DOCS:
        (docs_dir / doc.path).parent.mkdir(parents=True, exist_ok=True)
        (docs_dir / doc.path).write_text(doc.text, encoding="utf-8")
    keys, groups, rules = _write_config(tmp, docs_dir)
    embedder = HashingEmbedder()
    with OllamaProtocolServer() as llm:
        # The model repeats its whole prompt: whatever passage reached it is in the answer.
        llm.respond = lambda messages: "\n".join(str(m["content"]) for m in messages)
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None,
            data_dir=tmp / "data",
            embedder="sentence-transformers:unused",
            llm="ollama:qwen2.5:14b",
            ollama_host=llm.url,
            api_keys_file=keys,
            groups_file=groups,
            access_file=rules,
            openwebui_jwt_secret=SecretStr(JWT_SECRET),
            audit_log=str(tmp / "audit.log"),
            min_relevance=-1.0,  # every question reaches the model: the prompt is what is checked
            request_timeout_s=10.0,
        )
        kb = KnowledgeBase(settings, embedder=embedder)
        with IngestService(kb) as ingest:
            report = ingest.sync([docs_dir])
            assert report.added == len(DOCS), report.failed
            records = {r.source: r for r in ingest.ledger.documents()}
        kb.close()
        markers: dict[str, set[str]] = {}
        doc_ids: dict[str, str] = {}
        for doc in DOCS:
            record = records[str((docs_dir / doc.path).resolve())]
            doc_ids[doc.path] = record.doc_id
            markers[doc.path] = {doc.code, doc.name, Path(doc.name).stem, record.doc_id, *record.chunk_ids}
        app = create_app(settings, embedder=embedder)
        with TestClient(app) as client:
            yield World(client, docs_dir, markers, doc_ids)


def _leaks(world: World, caller: Caller, body: str) -> list[str]:
    """The markers of documents ``caller`` may not read that appear in ``body``."""
    return sorted(
        f"{path}: {marker}"
        for path, markers in world.markers.items()
        if path not in caller.readable
        for marker in markers
        if marker in body
    )


QUESTIONS = [d.code for d in DOCS] + [
    "review code",
    "What is the review code?",
    "salary bands deploy runbook holidays notes board",
]


def _responses(world: World, caller: Caller) -> Iterator[tuple[str, int, str]]:
    """(what, status, body) for every request of the matrix. What the caller sent (a question, an id)
    may come back to them; it is blanked out of the body before the body is checked."""
    for what, status, body, sent in _raw_responses(world, caller):
        for text in sent:
            body = body.replace(text, "<sent>")
        yield what, status, body


def _raw_responses(world: World, caller: Caller) -> Iterator[tuple[str, int, str, list[str]]]:
    c, h = world.client, caller.headers
    for q in QUESTIONS:
        for mode in ("hybrid", "dense", "sparse"):
            r = c.post("/v1/search", json={"query": q, "top_k": 10, "mode": mode}, headers=h)
            yield f"search {mode} {q!r}", r.status_code, r.text, [q]
        r = c.post("/v1/query", json={"question": q, "top_k": 10}, headers=h)
        yield f"query {q!r}", r.status_code, r.text, [q]
        r = c.post("/v1/query", json={"question": q, "stream": True}, headers=h)
        yield f"query stream {q!r}", r.status_code, r.text, [q]
        for stream in (False, True):
            chat = {"model": "private-rag", "messages": [{"role": "user", "content": q}], "stream": stream}
            r = c.post("/v1/chat/completions", json=chat, headers=h)
            yield f"chat stream={stream} {q!r}", r.status_code, r.text, [q]
    for path, doc_id in world.doc_ids.items():
        r = c.post("/v1/search", json={"query": "review code", "filters": {"doc_ids": [doc_id]}}, headers=h)
        yield f"search filtered to {path}", r.status_code, r.text, [doc_id]
        source = str((world.docs_dir / path).resolve())
        r = c.post("/v1/query", json={"question": "review code", "filters": {"sources": [source]}}, headers=h)
        yield f"query filtered to {path}", r.status_code, r.text, [source]
        r = c.get(f"/v1/documents/{doc_id}", headers=h)
        yield f"get {path}", r.status_code, r.text, [doc_id]
    for status in ("ingested", "failed"):
        r = c.get("/v1/documents", params={"status": status}, headers=h)
        yield f"list {status}", r.status_code, r.text, []
    for url in ("/metrics", "/ready", "/v1/jobs/0123"):
        r = c.get(url, headers=h)
        yield f"GET {url}", r.status_code, r.text, []


@pytest.mark.parametrize("caller", CALLERS, ids=[c.name for c in CALLERS])
def test_no_response_carries_anything_of_a_document_the_caller_may_not_read(
    world: World, caller: Caller
) -> None:
    leaks: dict[str, list[str]] = {}
    seen: set[str] = set()  # readable documents found somewhere: the matrix is not vacuous
    for what, status, body in _responses(world, caller):
        assert status < 500, f"{what}: {status} {body[:300]}"
        if found := _leaks(world, caller, body):
            leaks[what] = found
        seen |= {path for path in caller.readable if any(m in body for m in world.markers[path])}
    assert not leaks, f"{caller.name} saw what it may not read: {json.dumps(leaks, indent=1)[:3000]}"
    assert seen == caller.readable, f"{caller.name} never saw {sorted(caller.readable - seen)}"


@pytest.mark.parametrize("caller", CALLERS, ids=[c.name for c in CALLERS])
def test_document_list_and_count_show_exactly_the_readable_documents(world: World, caller: Caller) -> None:
    listed = world.client.get("/v1/documents", headers=caller.headers).json()
    names = {Path(d["source"]).name for d in listed["documents"]}
    assert names == {Path(p).name for p in caller.readable}
    assert listed["total"] == len(caller.readable)


@pytest.mark.parametrize("caller", [c for c in CALLERS if not c.admin], ids=lambda c: c.name)
def test_writes_and_operations_are_admin_only_and_say_nothing_of_documents(
    world: World, caller: Caller
) -> None:
    c, h = world.client, caller.headers
    for doc_id in world.doc_ids.values():
        r = c.delete(f"/v1/documents/{doc_id}", headers=h)
        assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
        assert not _leaks(world, caller, r.text)
    r = c.post("/v1/documents", files={"file": ("x.md", b"# x\n\nhello")}, headers=h)
    assert r.status_code == 403
    assert c.get("/metrics", headers=h).status_code == 403
    assert c.get("/v1/documents", params={"status": "failed"}, headers=h).status_code == 403
    ready = c.get("/ready", headers=h).json()
    assert all(check["detail"] in ("ok", "failing") for check in ready["checks"].values())
    assert len(world.doc_ids) == 5  # every document is still there


def test_a_question_only_a_hidden_document_answers_looks_like_one_nothing_answers(world: World) -> None:
    """For a reader in no group, the board's code (admins only) and a made-up code get the same answer."""
    h = CALLERS[3].headers
    hidden = world.client.post("/v1/search", json={"query": "CEDARBOARD7788"}, headers=h).json()
    absent = world.client.post("/v1/search", json={"query": "NOSUCHCODE0000"}, headers=h).json()
    assert [hit["source"] for hit in hidden["hits"]] == [hit["source"] for hit in absent["hits"]]
    assert set(hidden) == set(absent)


def test_forged_or_expired_user_tokens_are_refused(world: World) -> None:
    now = int(time.time())
    forged = jwt.encode({"email": "alice@example.com", "exp": now + 300}, "not-the-secret", algorithm="HS256")
    expired = jwt.encode({"email": "alice@example.com", "exp": now - 3600}, JWT_SECRET, algorithm="HS256")
    no_expiry = jwt.encode({"email": "alice@example.com"}, JWT_SECRET, algorithm="HS256")
    for token in (forged, expired, no_expiry, "not-a-jwt"):
        headers = {**_bearer("open-webui"), "X-OpenWebUI-User-Jwt": token}
        r = world.client.post("/v1/search", json={"query": "ORCHIDHR4471"}, headers=headers)
        assert r.status_code == 401, r.text
        assert "ORCHIDHR4471" not in r.text.replace('ORCHIDHR4471"', "")  # only the echoed query, if any
    # A reader key cannot borrow a user's token, nor act as another user.
    headers = {**_bearer("no-group"), "X-OpenWebUI-User-Jwt": _owui_token("alice@example.com")}
    hits = world.client.post("/v1/search", json={"query": "ORCHIDHR4471"}, headers=headers).json()["hits"]
    assert all("hr" not in hit["source"].split("/") for hit in hits)
    r = world.client.post(
        "/v1/search",
        json={"query": "x"},
        headers={**_bearer("no-group"), "X-Act-As-User": "alice@example.com"},
    )
    assert r.status_code == 403
    # Plain user headers are ignored for a service key that was not told to trust them.
    headers = {**_bearer("open-webui"), "X-OpenWebUI-User-Email": "alice@example.com"}
    hits = world.client.post("/v1/search", json={"query": "ORCHIDHR4471"}, headers=headers).json()["hits"]
    assert {Path(hit["source"]).name for hit in hits} <= {"holidays-public.md"}


def test_the_audit_trail_names_who_got_which_documents_and_never_their_text(world: World) -> None:
    alice = CALLERS[4]
    answer = world.client.post("/v1/query", json={"question": "ORCHIDHR4471"}, headers=alice.headers).json()
    log_path = Path(str(world.client.app.state.services.settings.audit_log))  # type: ignore[attr-defined]
    lines = [json.loads(line) for line in log_path.read_text(encoding="utf-8").splitlines()]
    last = lines[-1]
    assert last["action"] == "answer" and last["user"] == "alice@example.com" and last["key"] == "open-webui"
    assert last["cited_chunks"] == [c["chunk_id"] for c in answer["citations"]]
    # What reached the model's prompt is recorded too, and all of it was alice's to read.
    alices_chunks = {m for path in alice.readable for m in world.markers[path]}
    assert last["chunks"] and set(last["chunks"]) <= alices_chunks
    assert "question" not in last and last["question_sha256"]
    text = log_path.read_text(encoding="utf-8")
    for doc in DOCS:
        assert doc.text.split("\n")[-1] not in text  # no passage text, ever
