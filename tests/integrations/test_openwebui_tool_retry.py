"""The Open WebUI tool behind a load balancer: a search or an answer that meets a replica going away
(connection dropped, 502, 503) is sent once more and the user sees the result; a second failure, a 500
or a timeout is the readable message it always was, after one try only. Real HTTP on loopback."""

from __future__ import annotations

import asyncio
import importlib.util
from pathlib import Path
from typing import Any

import pytest
from support.flaky_server import Failure, flaky_server

TOOL_FILE = Path(__file__).resolve().parents[2] / "integrations" / "openwebui" / "private_rag_tool.py"
GOING_AWAY: list[Failure] = ["drop", 502, 503]


def make_tool(url: str, **valves: Any) -> Any:
    spec = importlib.util.spec_from_file_location("private_rag_tool", TOOL_FILE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    tool = module.Tools()
    tool.valves = tool.Valves(api_url=url, api_key="k", **valves)
    return tool


def call(tool: Any, method: str, text: str) -> str:
    result = asyncio.run(getattr(tool, method)(text))
    assert isinstance(result, str)
    return result


@pytest.mark.parametrize("failure", GOING_AWAY)
def test_search_and_answer_are_sent_once_more_when_the_replica_went_away(failure: Failure) -> None:
    with flaky_server(failure) as server:
        result = call(make_tool(server.url), "search_knowledge_base", "a?")
    assert result.startswith("Passages from the knowledge base for: a?"), result
    assert server.requests == [("POST", "/v1/search")] * 2
    with flaky_server(failure) as server:
        result = call(make_tool(server.url), "ask_knowledge_base", "a?")
    assert result.startswith("A [1]."), result
    assert server.requests == [("POST", "/v1/query")] * 2


def test_a_second_failure_is_the_message_it_always_was() -> None:
    with flaky_server(503, times=2) as server:
        result = call(make_tool(server.url), "search_knowledge_base", "a?")
    assert result == "private-rag returned an error (503): failed with 503 (unavailable)"
    assert len(server.requests) == 2
    with flaky_server("drop", times=2) as server:
        result = call(make_tool(server.url), "search_knowledge_base", "a?")
    assert result.startswith(f"private-rag is not reachable at {server.url}"), result
    assert len(server.requests) == 2


@pytest.mark.parametrize("failure", [500, "slow"])
def test_a_server_error_or_a_timeout_is_not_retried(failure: Failure) -> None:
    """A 500 is a bug that would fail again; a timeout may be a busy replica still working on it."""
    with flaky_server(failure) as server:
        result = call(make_tool(server.url, timeout_s=0.3), "search_knowledge_base", "a?")
    assert result.startswith(
        "private-rag returned an error (500)" if failure == 500 else "private-rag did not"
    )
    assert len(server.requests) == 1
