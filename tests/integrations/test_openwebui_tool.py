"""The Open WebUI tool (integrations/openwebui/private_rag_tool.py).

1. Open WebUI 0.12.4's own loader parses the file into tool specs (run in Open WebUI's own venv, created
   once under ~/.cache/private-rag/openwebui-venv so it never touches the project's).
2. The tool's methods against a real private-rag API under uvicorn (no LLM: extractive answers), with
   the events they emit; every failure comes back as a readable string. The chat user goes out as Open
   WebUI's own signed token (X-OpenWebUI-User-Jwt), minted like Open WebUI mints it.
3. End to end: a real `open-webui serve` with a small real LLM calls the tool, which calls our API.
"""

from __future__ import annotations

import asyncio
import fcntl
import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import jwt
import pytest
from pydantic import SecretStr
from support.llm import LLMServer
from support.processes import stop

from api.app import create_app
from rag.config import Settings
from rag.embedding.local import SentenceTransformerEmbedder

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "api"))
from api_support import API_KEY, DOC_NAMES, serve, unreachable_url, upload, write_docs

ROOT = Path(__file__).resolve().parent.parent.parent
TOOL_FILE = ROOT / "integrations" / "openwebui" / "private_rag_tool.py"
TOOL_ID = "private_rag"
OPENWEBUI_VERSION = "0.12.4"
TORCH_VERSION = "2.13.0"

Events = list[dict[str, Any]]


# -- Open WebUI's own venv -------------------------------------------------------------------------


def _cache_root() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", str(Path.home() / ".cache"))) / "private-rag"


def _pip(python: Path, *args: str, log: Path) -> None:
    with log.open("a") as out:
        done = subprocess.run(
            [str(python), "-m", "pip", "install", "--disable-pip-version-check", *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            check=False,
        )
    if done.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
        raise RuntimeError(f"pip install {' '.join(args)} failed:\n{tail}")


@pytest.fixture(scope="session")
def openwebui_python() -> Path:
    """The python of a venv holding open-webui (torch first, as DESIGN.md says); built once, cached.

    The marker file is written last, so an interrupted install is redone rather than trusted."""
    venv = Path(os.environ.get("RAG_OPENWEBUI_VENV") or _cache_root() / "openwebui-venv")
    python = venv / "bin" / "python"
    marker = venv / ".private-rag-ready"
    venv.parent.mkdir(parents=True, exist_ok=True)
    with (venv.parent / "openwebui-venv.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two sessions never install at once
        if marker.exists() and python.exists():
            return python
        shutil.rmtree(venv, ignore_errors=True)
        log = venv.parent / "openwebui-venv-install.log"
        log.write_text("")
        try:
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
            _pip(python, f"torch=={TORCH_VERSION}", log=log)
            _pip(python, f"open-webui=={OPENWEBUI_VERSION}", log=log)
        except (RuntimeError, subprocess.CalledProcessError) as exc:
            reason = f"cannot install Open WebUI {OPENWEBUI_VERSION} in its own venv: {exc}"
            if os.environ.get("RAG_REQUIRE_ALL_TESTS") == "1":
                pytest.fail(reason)  # CI installs it; a failure there must not pass as a skip
            pytest.skip(reason)
        marker.write_text(f"open-webui=={OPENWEBUI_VERSION}\ntorch=={TORCH_VERSION}\n{venv}\n")
    return python


def openwebui_env(data_dir: Path) -> dict[str, str]:
    """Offline Open WebUI settings (DESIGN.md, "Open WebUI"); nothing the project's env sets leaks in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAG_", "OPENAI_", "VIRTUAL_ENV"))}
    env.update(
        {
            "FROM_INIT_PY": "true",
            "DATA_DIR": str(data_dir),
            "OFFLINE_MODE": "true",
            "WEBUI_AUTH": "false",
            "WEBUI_SECRET_KEY": "private-rag-test-secret",
            "ENABLE_OLLAMA_API": "false",
            "ENABLE_OPENAI_API": "false",
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "HF_DATASETS_OFFLINE": "1",
            "ANONYMIZED_TELEMETRY": "false",
            "DO_NOT_TRACK": "true",
            "SCARF_NO_ANALYTICS": "true",
            "ENABLE_VERSION_UPDATE_CHECK": "false",
            "BYPASS_EMBEDDING_AND_RETRIEVAL": "true",
        }
    )
    return env


# -- 1. Inside Open WebUI's venv: its loader, and its own user token -----------------------------

SECRET_ENV = "FORWARD_USER_INFO_HEADER_JWT_SECRET"
# At least 32 bytes: PyJWT warns about shorter HMAC keys, and so should an admin's secret be.
USER_SECRET = "tool-test-user-secret-5b0e9d2c41a7f836"
OTHER_SECRET = "tool-test-other-secret-93c1e07a5d2b4f68"
CHAT_USER = {"id": "2f1c6a0e-user-alice", "email": "alice@example.com", "name": "Alice", "role": "user"}

# One run for both checks: importing Open WebUI (and migrating its fresh database) is most of the
# cost, ~12 s a process here. The tool reads the secret at call time, so the loader's view of the
# valves does not depend on it being set.
INSIDE_OPENWEBUI_SCRIPT = textwrap.dedent(
    """
    import asyncio, json, os, sys
    from types import SimpleNamespace
    import jwt
    from open_webui.utils.headers import _mint_forward_user_jwt
    from open_webui.utils.plugin import load_tool_module_by_id
    from open_webui.utils.tools import get_tool_specs

    content = open(sys.argv[1], encoding="utf-8").read()
    # 0.12.4: async, returns (Tools instance, frontmatter, module) and installs no requirements here
    tool, frontmatter, module = asyncio.run(load_tool_module_by_id("private_rag", content=content))
    specs = get_tool_specs(tool)
    Valves = tool.Valves
    defaults = Valves().model_dump()
    override = Valves(api_url="http://10.0.0.5:9000", api_key="k", top_k=3, timeout_s=5).model_dump()
    try:
        Valves(top_k=0)
        invalid = None
    except Exception as exc:
        invalid = type(exc).__name__
    loader = {
        "frontmatter": frontmatter,
        "specs": specs,
        "defaults": defaults,
        "override": override,
        "invalid": invalid,
        "valves_schema": Valves.model_json_schema(),
        "has_user_valves": hasattr(tool, "UserValves"),
        "citation": getattr(tool, "citation", None),
    }

    user = json.loads(sys.argv[2])
    secret = os.environ["FORWARD_USER_INFO_HEADER_JWT_SECRET"]
    theirs = _mint_forward_user_jwt(SimpleNamespace(**user))
    ours = module.user_token(user, secret)
    decode = lambda token: jwt.decode(token, secret, algorithms=["HS256"])
    mint = {
        "theirs": decode(theirs), "ours": decode(ours),
        "theirs_header": jwt.get_unverified_header(theirs), "ours_header": jwt.get_unverified_header(ours),
    }
    print("@@JSON@@" + json.dumps({"loader": loader, "mint": mint}, default=str))
    """
)


@pytest.fixture(name="inside_openwebui", scope="module")
def inside_openwebui_fixture(
    openwebui_python: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """What Open WebUI's own code (its loader, its token minting) makes of the tool, from one run."""
    root = tmp_path_factory.mktemp("inside-openwebui")
    script = root / "inside_openwebui.py"
    script.write_text(INSIDE_OPENWEBUI_SCRIPT, encoding="utf-8")
    (root / "data").mkdir()
    env = openwebui_env(root / "data") | {SECRET_ENV: USER_SECRET}
    done = subprocess.run(
        [str(openwebui_python), str(script), str(TOOL_FILE), json.dumps(CHAT_USER)],
        env=env,
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    [line] = [x for x in done.stdout.splitlines() if x.startswith("@@JSON@@")]
    result: dict[str, Any] = json.loads(line.removeprefix("@@JSON@@"))
    return result


def test_openwebui_loader_parses_the_tool(inside_openwebui: dict[str, Any]) -> None:
    result = inside_openwebui["loader"]

    assert result["frontmatter"]["title"] == "private-rag"
    assert result["frontmatter"]["version"] == "0.1.1"
    assert result["citation"] is False

    specs = {spec["name"]: spec for spec in result["specs"]}
    assert set(specs) == {"search_knowledge_base", "ask_knowledge_base"}
    search, ask = specs["search_knowledge_base"], specs["ask_knowledge_base"]
    assert "knowledge base" in search["description"]
    assert "knowledge base" in ask["description"]
    assert search["parameters"]["required"] == ["query"]
    assert ask["parameters"]["required"] == ["question"]
    assert set(search["parameters"]["properties"]) == {"query"}  # no __event_emitter__/__user__
    assert set(ask["parameters"]["properties"]) == {"question"}
    assert "What to look for" in search["parameters"]["properties"]["query"]["description"]
    assert "question to answer" in ask["parameters"]["properties"]["question"]["description"]
    assert search["parameters"]["properties"]["query"]["type"] == "string"

    assert result["defaults"] == {
        "api_url": "http://127.0.0.1:8000",
        "api_key": "",
        "user_jwt_secret": "",  # empty: Open WebUI's own FORWARD_USER_INFO_HEADER_JWT_SECRET
        "top_k": 5,
        "timeout_s": 60.0,
    }
    assert result["override"] == {
        "api_url": "http://10.0.0.5:9000",
        "api_key": "k",
        "user_jwt_secret": "",
        "top_k": 3,
        "timeout_s": 5.0,
    }
    assert result["invalid"] == "ValidationError"
    assert result["has_user_valves"] is True
    properties = result["valves_schema"]["properties"]
    assert all(
        properties[name].get("description")
        for name in ("api_url", "api_key", "user_jwt_secret", "top_k", "timeout_s")
    )
    # An admin must learn from the form itself what an empty secret means.
    secret_help = properties["user_jwt_secret"]["description"]
    assert "FORWARD_USER_INFO_HEADER_JWT_SECRET" in secret_help and "no user is sent" in secret_help


# -- 2. The tool against a real API ----------------------------------------------------------------


def load_tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("private_rag_tool", TOOL_FILE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_tool(url: str, api_key: str = API_KEY, **valves: Any) -> Any:
    tool = load_tool().Tools()
    tool.valves = tool.Valves(api_url=url, api_key=api_key, **valves)
    return tool


def call(tool: Any, method: str, text: str) -> tuple[str, Events]:
    events: Events = []

    async def emit(event: dict[str, Any]) -> None:
        events.append(event)

    result = asyncio.run(getattr(tool, method)(text, __event_emitter__=emit))
    assert isinstance(result, str)
    return result, events


def citations(events: Events) -> list[dict[str, Any]]:
    return [e["data"] for e in events if e["type"] == "citation"]


def statuses(events: Events) -> list[dict[str, Any]]:
    return [e["data"] for e in events if e["type"] == "status"]


@pytest.fixture(name="rag_url", scope="module")
def rag_url_fixture(
    tmp_path_factory: pytest.TempPathFactory, minilm: SentenceTransformerEmbedder
) -> Iterator[str]:
    """Our API under uvicorn with no LLM (answers are extractive), an API key, and four documents."""
    root = tmp_path_factory.mktemp("owui-tool")
    settings = Settings(  # type: ignore[call-arg]
        data_dir=root / "data",
        embedder="sentence-transformers:all-MiniLM-L6-v2",
        llm="none",
        api_keys=SecretStr(API_KEY),
        auth_disabled=False,
        _env_file=None,
    )
    docs = write_docs(root / "docs")
    with serve(create_app(settings, embedder=minilm)) as url:
        with httpx.Client(base_url=url, timeout=60) as http:
            for name in DOC_NAMES:
                response = upload(http, docs / name)
                assert response.status_code == 201, response.text
        yield url


def test_search_returns_numbered_passages_and_citation_events(rag_url: str) -> None:
    result, events = call(make_tool(rag_url, top_k=3), "search_knowledge_base", "How do I reset my password?")

    assert "[1] it_faq.txt" in result
    assert "self-service portal" in result
    assert "[3] " in result and "[4] " not in result  # top_k from the valves
    cited = citations(events)
    assert len(cited) == 3
    assert cited[0]["source"]["name"] == "it_faq.txt"
    assert cited[0]["metadata"][0]["source"] == "it_faq.txt"
    assert "self-service portal" in cited[0]["document"][0]
    assert all(len(c["document"]) == len(c["metadata"]) == 1 for c in cited)
    assert statuses(events)[0]["done"] is False
    assert statuses(events)[-1]["done"] is True


def test_ask_returns_cited_answer_with_page_numbers(rag_url: str) -> None:
    result, events = call(make_tool(rag_url), "ask_knowledge_base", "Who do I report sick leave to?")

    assert "Sources:" in result
    assert "handbook.pdf, page 2" in result
    cited = citations(events)
    assert cited, events
    names = [c["source"]["name"] for c in cited]
    assert "handbook.pdf, page 2" in names
    pdf = next(c for c in cited if c["source"]["name"] == "handbook.pdf, page 2")
    assert pdf["metadata"][0] | {"source": "handbook.pdf", "page": 2} == pdf["metadata"][0]
    assert "manager" in pdf["document"][0]
    assert statuses(events)[-1]["done"] is True


def test_wrong_api_key_is_a_readable_message(rag_url: str) -> None:
    for method in ("search_knowledge_base", "ask_knowledge_base"):
        result, events = call(make_tool(rag_url, api_key="wrong"), method, "password reset")
        assert "401" in result and "API key" in result, result
        assert "Traceback" not in result
        assert citations(events) == []
        assert statuses(events)[-1] == {"description": result, "done": True}
    result, _ = call(make_tool(rag_url, api_key=""), "search_knowledge_base", "password reset")
    assert "401" in result


def test_api_down_is_a_readable_message() -> None:
    url = unreachable_url()
    for method in ("search_knowledge_base", "ask_knowledge_base"):
        result, events = call(make_tool(url), method, "password reset")
        assert result.startswith(f"private-rag is not reachable at {url}"), result
        assert statuses(events)[-1]["done"] is True


def test_invalid_request_shows_our_error_message(rag_url: str) -> None:
    result, _ = call(make_tool(rag_url), "ask_knowledge_base", "x" * 5000)
    assert "422" in result and "invalid_request" in result and "4000" in result, result


class _Stub(BaseHTTPRequestHandler):
    """Answers every POST with a 503 in our error format, or (for /slow) too late."""

    def do_POST(self) -> None:
        if self.path.startswith("/slow"):
            time.sleep(1.5)
        body = json.dumps({"error": {"code": "llm_unavailable", "message": "The LLM is not reachable."}})
        try:
            self.send_response(503)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body.encode())
        except OSError:  # /slow: the client gave up waiting, as it should
            pass

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(name="stub_url")
def stub_url_fixture() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), _Stub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_server_error_and_timeout_are_readable_messages(stub_url: str) -> None:
    result, _ = call(make_tool(stub_url), "ask_knowledge_base", "anything")
    assert result == "private-rag returned an error (503): The LLM is not reachable. (llm_unavailable)"
    result, _ = call(make_tool(f"{stub_url}/slow", timeout_s=0.3), "search_knowledge_base", "anything")
    assert result.startswith("private-rag did not answer within 0.3 s"), result
    result, _ = call(make_tool("not a url"), "search_knowledge_base", "anything")
    assert result.startswith("private-rag"), result


def test_no_emitter_and_a_failing_emitter_are_fine(rag_url: str) -> None:
    tool = make_tool(rag_url)
    result = asyncio.run(tool.search_knowledge_base("laptop"))
    assert "onboarding.html" in result

    async def broken(event: dict[str, Any]) -> None:
        raise RuntimeError("socket closed")

    result = asyncio.run(tool.search_knowledge_base("laptop", __event_emitter__=broken))
    assert "onboarding.html" in result


# -- 2b. The chat user, as Open WebUI's signed token -----------------------------------------------

USER_JWT = "x-openwebui-user-jwt"

Seen = list[tuple[str, dict[str, str]]]  # (path, headers with lower-case names) per request


def _recording_handler(seen: Seen) -> type[BaseHTTPRequestHandler]:
    """A stand-in API that records each request's headers and answers like ours would."""

    class Recorder(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            seen.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
            if self.path.endswith("/search"):
                reply: dict[str, Any] = {"hits": [{"source": "docs/a.md", "text": "A.", "chunk_id": "c1"}]}
            else:
                reply = {"answer": "A [1].", "citations": [{"n": 1, "source": "docs/a.md", "quote": "A."}]}
            body = json.dumps(reply).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Recorder


@pytest.fixture(name="recorder")
def recorder_fixture() -> Iterator[tuple[str, Seen]]:
    seen: Seen = []
    server = HTTPServer(("127.0.0.1", 0), _recording_handler(seen))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


def call_as(tool: Any, method: str, text: str, user: dict[str, Any] | None) -> str:
    """The tool as Open WebUI calls it: ``__user__`` is the user's model_dump() plus their valves."""
    kwargs: dict[str, Any] = {} if user is None else {"__user__": {**user, "valves": tool.UserValves()}}
    result = asyncio.run(getattr(tool, method)(text, **kwargs))
    assert isinstance(result, str)
    return result


def user_headers(headers: dict[str, str]) -> list[str]:
    return sorted(name for name in headers if name.startswith("x-openwebui-"))


def test_tool_sends_the_chat_user_as_a_signed_token(
    recorder: tuple[str, Seen], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, seen = recorder
    monkeypatch.delenv(SECRET_ENV, raising=False)
    tool = make_tool(url, user_jwt_secret=USER_SECRET)
    for method in ("search_knowledge_base", "ask_knowledge_base"):
        before = int(time.time())
        result = call_as(tool, method, "hotline code", CHAT_USER)
        assert "a.md" in result, result
        headers = seen[-1][1]
        # The signed token only: plain X-OpenWebUI-User-* headers could be forged by anyone with the key.
        assert user_headers(headers) == [USER_JWT], headers
        assert headers["authorization"] == f"Bearer {API_KEY}"
        token = headers[USER_JWT]
        assert jwt.get_unverified_header(token) == {"alg": "HS256", "typ": "JWT"}
        claims = jwt.decode(token, USER_SECRET, algorithms=["HS256"], options={"require": ["exp", "iat"]})
        assert claims == {  # Open WebUI's _mint_forward_user_jwt claims, nothing more
            "sub": CHAT_USER["id"],
            "email": "alice@example.com",
            "name": "Alice",
            "role": "user",
            "iss": "open-webui",
            "iat": claims["iat"],
            "exp": claims["iat"] + 300,
        }
        assert before <= claims["iat"] <= time.time() + 1
        with pytest.raises(jwt.InvalidSignatureError):
            jwt.decode(token, OTHER_SECRET, algorithms=["HS256"])
    assert [path for path, _ in seen] == ["/v1/search", "/v1/query"]


def test_user_token_expires_after_five_minutes() -> None:
    tool_module = load_tool()
    now = int(time.time())
    fresh = tool_module.user_token(CHAT_USER, USER_SECRET, now=now - 290)
    assert jwt.decode(fresh, USER_SECRET, algorithms=["HS256"])["exp"] == now + 10
    stale = tool_module.user_token(CHAT_USER, USER_SECRET, now=now - 301)
    with pytest.raises(jwt.ExpiredSignatureError):
        jwt.decode(stale, USER_SECRET, algorithms=["HS256"])


def test_the_secret_defaults_to_openwebuis_own(
    recorder: tuple[str, Seen], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An admin who set FORWARD_USER_INFO_HEADER_JWT_SECRET for Open WebUI has nothing more to set."""
    url, seen = recorder
    monkeypatch.setenv(SECRET_ENV, f"  {USER_SECRET}\n")  # Open WebUI strips it too
    call_as(make_tool(url), "search_knowledge_base", "hotline code", CHAT_USER)
    claims = jwt.decode(seen[-1][1][USER_JWT], USER_SECRET, algorithms=["HS256"])
    assert claims["email"] == "alice@example.com"

    # A secret in the valves wins over the environment.
    call_as(make_tool(url, user_jwt_secret=OTHER_SECRET), "ask_knowledge_base", "hotline code", CHAT_USER)
    token = seen[-1][1][USER_JWT]
    assert jwt.decode(token, OTHER_SECRET, algorithms=["HS256"])["sub"] == CHAT_USER["id"]
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, USER_SECRET, algorithms=["HS256"])


def test_no_secret_or_no_user_sends_no_user_header(
    recorder: tuple[str, Seen], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Then the API key's own principal applies; the request still goes out and is answered."""
    url, seen = recorder
    monkeypatch.delenv(SECRET_ENV, raising=False)
    for method in ("search_knowledge_base", "ask_knowledge_base"):
        result = call_as(make_tool(url), method, "hotline code", CHAT_USER)
        assert "a.md" in result, result
        assert user_headers(seen[-1][1]) == [], seen[-1]
    monkeypatch.setenv(SECRET_ENV, "   ")
    call_as(make_tool(url), "search_knowledge_base", "hotline code", CHAT_USER)
    assert user_headers(seen[-1][1]) == []

    # A secret but no chat user (the tool called outside a chat): nobody to vouch for.
    monkeypatch.setenv(SECRET_ENV, USER_SECRET)
    call_as(make_tool(url), "search_knowledge_base", "hotline code", None)
    assert user_headers(seen[-1][1]) == []
    call_as(make_tool(url), "search_knowledge_base", "hotline code", {})
    assert user_headers(seen[-1][1]) == []


def test_tool_token_matches_openwebuis_own(inside_openwebui: dict[str, Any]) -> None:
    """Inside Open WebUI's own venv (its PyJWT): the tool's token and Open WebUI's, for the same user."""
    result = inside_openwebui["mint"]
    theirs, ours = result["theirs"], result["ours"]
    assert abs(theirs["iat"] - ours["iat"]) <= 2  # minted a moment apart
    timeless = {"iat", "exp"}
    assert {k: ours[k] for k in ours.keys() - timeless} == {k: theirs[k] for k in theirs.keys() - timeless}
    assert ours["exp"] - ours["iat"] == theirs["exp"] - theirs["iat"] == 300
    assert result["ours_header"] == result["theirs_header"]


# -- 3. End to end: open-webui serve -> tool -> our API -> answer --------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.slow
def test_openwebui_chat_calls_the_tool_end_to_end(
    openwebui_python: Path,
    llm_server: LLMServer,
    minilm: SentenceTransformerEmbedder,
    tmp_path: Path,
) -> None:
    started = time.monotonic()
    settings = Settings(  # type: ignore[call-arg]
        data_dir=tmp_path / "data",
        embedder="sentence-transformers:all-MiniLM-L6-v2",
        llm=f"openai:{llm_server.model}",
        llm_base_url=llm_server.base_url,
        llm_context_tokens=2048,
        llm_max_answer_tokens=96,
        api_keys=SecretStr(API_KEY),
        auth_disabled=False,
        _env_file=None,
    )
    docs = write_docs(tmp_path / "docs")
    owui_data = tmp_path / "owui"
    owui_data.mkdir()
    port = _free_port()
    owui = f"http://127.0.0.1:{port}"
    env = openwebui_env(owui_data)
    env.pop("FROM_INIT_PY")
    env.update(
        {
            "ENABLE_OPENAI_API": "true",
            "OPENAI_API_BASE_URL": llm_server.base_url,
            "OPENAI_API_KEY": "none",
            "PORT": str(port),
            "HOST": "127.0.0.1",
        }
    )
    log = (tmp_path / "open-webui.log").open("w")
    with serve(create_app(settings, embedder=minilm)) as rag_url:
        with httpx.Client(base_url=rag_url, timeout=60) as http:
            for name in DOC_NAMES:
                assert upload(http, docs / name).status_code == 201
        executable = openwebui_python.parent / "open-webui"
        process = subprocess.Popen(
            [str(executable), "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            cwd=owui_data,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            with httpx.Client(base_url=owui, timeout=30) as http:
                deadline = time.monotonic() + 180
                while True:
                    assert process.poll() is None, (tmp_path / "open-webui.log").read_text()[-4000:]
                    try:
                        if http.get("/health").status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    assert time.monotonic() < deadline, "open-webui did not become healthy"
                    time.sleep(0.5)
                boot_s = time.monotonic() - started

                signin = http.post("/api/v1/auths/signin", json={"email": "", "password": ""})
                assert signin.status_code == 200, signin.text
                auth = {"Authorization": f"Bearer {signin.json()['token']}"}

                created = http.post(
                    "/api/v1/tools/create",
                    headers=auth,
                    json={
                        "id": TOOL_ID,
                        "name": "private-rag",
                        "content": TOOL_FILE.read_text(encoding="utf-8"),
                        "meta": {"description": "Search the company knowledge base", "manifest": {}},
                    },
                )
                assert created.status_code == 200, created.text
                valves = http.post(
                    f"/api/v1/tools/id/{TOOL_ID}/valves/update",
                    headers=auth,
                    json={"api_url": rag_url, "api_key": API_KEY, "top_k": 3, "timeout_s": 240.0},
                )
                assert valves.status_code == 200, valves.text

                chat_started = time.monotonic()
                reply = http.post(
                    "/api/chat/completions",
                    headers=auth,
                    timeout=600,
                    json={
                        "model": llm_server.model,
                        "messages": [
                            {
                                "role": "user",
                                "content": "Search the knowledge base: how do I reset my password?",
                            }
                        ],
                        "tool_ids": [TOOL_ID],
                        "params": {"function_calling": "legacy"},
                        "stream": False,
                    },
                )
                chat_s = time.monotonic() - chat_started
                assert reply.status_code == 200, reply.text
                body = reply.json()
        finally:
            stop(process, 20)
            log.close()

    sources = body.get("sources") or []
    names = json.dumps(sources)
    print(
        f"\nopen-webui e2e: boot {boot_s:.1f} s, chat {chat_s:.1f} s, "
        f"total {time.monotonic() - started:.1f} s"
        f"\nanswer: {body['choices'][0]['message']['content']!r}\nsources: {names[:1500]}"
    )
    assert sources, body
    assert any(s.get("tool_result") for s in sources), sources
    assert any(name in names for name in DOC_NAMES), sources
