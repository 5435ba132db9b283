"""
title: private-rag
author: private-rag
version: 0.1.1
description: Search your private-rag knowledge base and get answers citing your own documents.
requirements:
"""

import asyncio
import json
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import PurePath
from typing import Any

import httpx

# PyJWT ships with Open WebUI (it signs its own forwarded user tokens with it), so the `requirements:`
# line above stays empty: nothing is installed when an admin pastes this file in.
import jwt
from pydantic import BaseModel, Field

EventEmitter = Callable[[dict[str, Any]], Awaitable[Any]]

_NAME = "private-rag"
# Open WebUI's signed user header, as private-rag reads it for a `service` key.
USER_JWT_HEADER = "X-OpenWebUI-User-Jwt"
# The secret Open WebUI itself signs that header with (ENABLE_FORWARD_USER_INFO_HEADERS): the default.
OPENWEBUI_SECRET_ENV = "FORWARD_USER_INFO_HEADER_JWT_SECRET"
# A token is minted per request, so it only has to outlive that request; Open WebUI's default too.
USER_JWT_TTL_S = 300
# Behind a load balancer (deploy/haproxy.cfg) a request can meet a replica that was just killed or is
# stopping: the balancer answers 502/503, or the connection drops. Both tool calls only read (a search,
# and an answer, which changes nothing in the knowledge base), so each is sent once more after this
# pause, by when the balancer has taken that replica out. Never more than once: a real outage still
# shows its message within a second.
RETRY_DELAY_S = 0.5
RETRY_STATUSES = frozenset({502, 503})


class ToolError(Exception):
    """A failure already phrased for the user and the model."""


def _file_name(source: str) -> str:
    """The file name of a source path (works for POSIX and Windows paths)."""
    name = PurePath(source.replace("\\", "/")).name
    return name or source


def _label(item: dict[str, Any]) -> str:
    """`file.pdf, page 2` or `file.md` (page is 1-based in the API)."""
    name = _file_name(str(item.get("source") or "unknown"))
    page = item.get("page")
    return f"{name}, page {page}" if page is not None else name


def _error_message(response: httpx.Response) -> str:
    """Our `{"error": {"code", "message"}}` body, or the status line when it is not ours."""
    try:
        body = response.json()
    except (json.JSONDecodeError, ValueError):
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        error = body["error"]
        return f"{error.get('message') or 'error'} ({error.get('code') or response.status_code})"
    reason = response.reason_phrase or "error"
    return f"HTTP {response.status_code} {reason}"


def user_token(user: dict[str, Any] | None, secret: str, now: int | None = None) -> str | None:
    """The chat user as Open WebUI's own ``_mint_forward_user_jwt`` signs them (same claims, HS256),
    so private-rag verifies the tool's calls exactly like the model connection's; None without a user."""
    if not secret or not user or not (user.get("email") or user.get("id")):
        return None
    issued = int(time.time()) if now is None else now
    claims = {
        "sub": str(user.get("id") or ""),
        "email": str(user.get("email") or ""),
        "name": str(user.get("name") or ""),
        "role": str(user.get("role") or ""),
        "iss": "open-webui",
        "iat": issued,
        "exp": issued + USER_JWT_TTL_S,
    }
    return jwt.encode(claims, secret, algorithm="HS256")


# A connection refused, or dropped before an answer came. Not a read timeout: the replica may still be
# working on it, and asking again would double its load. A connect timeout never reached one.
RETRY_ERRORS = (httpx.NetworkError, httpx.RemoteProtocolError, httpx.ConnectTimeout)


async def _post_with_one_retry(
    client: httpx.AsyncClient, url: str, body: dict[str, Any], headers: dict[str, str]
) -> httpx.Response:
    """POST a read (search or answer); sent again once, after RETRY_DELAY_S, on a dropped connection or
    a 502/503, so a replica going away behind the load balancer is not the user's problem."""
    try:
        response = await client.post(url, json=body, headers=headers)
    except RETRY_ERRORS:
        pass
    else:
        if response.status_code not in RETRY_STATUSES:
            return response
    await asyncio.sleep(RETRY_DELAY_S)
    return await client.post(url, json=body, headers=headers)


class Tools:
    class Valves(BaseModel):
        api_url: str = Field(
            default="http://127.0.0.1:8000",
            description="Base URL of the private-rag API (no trailing /v1).",
        )
        api_key: str = Field(
            default="",
            description="API key of the private-rag API, sent as `Authorization: Bearer <key>`.",
        )
        user_jwt_secret: str = Field(
            default="",
            description=(
                "Shared secret that signs the chat user's identity (X-OpenWebUI-User-Jwt, HS256), so "
                "private-rag shows each user only the documents they may read; it must equal private-rag's "
                "RAG_OPENWEBUI_JWT_SECRET. Empty: Open WebUI's own FORWARD_USER_INFO_HEADER_JWT_SECRET. "
                "With neither, no user is sent and every chat user gets what the API key itself may read."
            ),
        )
        top_k: int = Field(default=5, ge=1, le=50, description="How many passages to retrieve.")
        timeout_s: float = Field(
            default=60.0, gt=0, description="Seconds to wait for the API (answers can take a while)."
        )

    class UserValves(BaseModel):
        show_passages: bool = Field(
            default=True,
            description="Show the numbered sources as citations in the chat.",
        )

    def __init__(self) -> None:
        self.valves = self.Valves()
        # We emit our own citation events, one per source.
        self.citation = False

    # -- tools exposed to the model --------------------------------------------------------------

    async def search_knowledge_base(
        self,
        query: str,
        __event_emitter__: EventEmitter | None = None,
        __user__: dict[str, Any] | None = None,
    ) -> str:
        """
        Search the private knowledge base; returns the most relevant passages with numbered sources.
        :param query: What to look for, in plain words (a question or keywords).
        """
        await self._status(__event_emitter__, f"Searching the knowledge base for: {query}", done=False)
        try:
            data = await self._post("/v1/search", {"query": query, "top_k": self.valves.top_k}, __user__)
        except ToolError as exc:
            await self._status(__event_emitter__, str(exc), done=True)
            return str(exc)
        hits = [h for h in data.get("hits") or [] if isinstance(h, dict)]
        if not hits:
            await self._status(__event_emitter__, "No matching passages found", done=True)
            return f"The knowledge base has no passages matching: {query}"
        lines = [f"Passages from the knowledge base for: {query}", ""]
        for n, hit in enumerate(hits, start=1):
            section = f" ({hit['section']})" if hit.get("section") else ""
            lines.append(f"[{n}] {_label(hit)}{section}")
            lines.append(str(hit.get("text") or "").strip())
            lines.append("")
        lines.append("Cite the passages you use as [n].")
        if self._show(__user__):
            for hit in hits:
                await self._citation(__event_emitter__, hit, str(hit.get("text") or ""))
        await self._status(__event_emitter__, f"Found {len(hits)} passages", done=True)
        return "\n".join(lines).strip()

    async def ask_knowledge_base(
        self,
        question: str,
        __event_emitter__: EventEmitter | None = None,
        __user__: dict[str, Any] | None = None,
    ) -> str:
        """
        Answer a question from the private knowledge base, citing its source documents as [n].
        :param question: The question to answer, as a complete sentence.
        """
        await self._status(__event_emitter__, f"Asking the knowledge base: {question}", done=False)
        try:
            data = await self._post("/v1/query", {"question": question, "top_k": self.valves.top_k}, __user__)
        except ToolError as exc:
            await self._status(__event_emitter__, str(exc), done=True)
            return str(exc)
        answer = str(data.get("answer") or "").strip()
        citations = [c for c in data.get("citations") or [] if isinstance(c, dict)]
        if data.get("refused"):
            reason = data.get("refusal_reason")
            await self._status(__event_emitter__, "The knowledge base has no answer", done=True)
            suffix = f" ({reason})" if reason else ""
            return (answer or "The knowledge base does not contain an answer to this question.") + suffix
        lines = [answer or "(empty answer)"]
        if citations:
            lines += ["", "Sources:"]
            for c in citations:
                section = f" ({c['section']})" if c.get("section") else ""
                quote = str(c.get("quote") or "").strip()
                lines.append(f"[{c.get('n')}] {_label(c)}{section}" + (f': "{quote}"' if quote else ""))
        if self._show(__user__):
            for c in citations:
                await self._citation(__event_emitter__, c, str(c.get("quote") or ""))
        await self._status(__event_emitter__, f"Answered with {len(citations)} sources", done=True)
        return "\n".join(lines)

    # -- helpers ---------------------------------------------------------------------------------

    def _secret(self) -> str:
        # Read per call, not at import: Open WebUI loads the tool once, and the valves can change.
        return self.valves.user_jwt_secret.strip() or os.environ.get(OPENWEBUI_SECRET_ENV, "").strip()

    async def _post(
        self, path: str, body: dict[str, Any], user: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """POST to the API; every failure becomes a ToolError with a short readable message."""
        base = self.valves.api_url.rstrip("/")
        url = f"{base}{path}"
        headers = {"Accept": "application/json"}
        if self.valves.api_key:
            headers["Authorization"] = f"Bearer {self.valves.api_key}"
        # Only the signed token, never plain X-OpenWebUI-User-* headers: anyone holding the key could
        # forge those, and private-rag ignores them unless a key is configured to trust them.
        token = user_token(user, self._secret())
        if token is not None:
            headers[USER_JWT_HEADER] = token
        try:
            async with httpx.AsyncClient(timeout=self.valves.timeout_s) as client:
                response = await _post_with_one_retry(client, url, body, headers)
        except httpx.TimeoutException:
            raise ToolError(
                f"{_NAME} did not answer within {self.valves.timeout_s:g} s at {base}; try again later."
            ) from None
        except httpx.HTTPError as exc:
            detail = str(exc) or type(exc).__name__
            raise ToolError(f"{_NAME} is not reachable at {base}: {detail}") from None
        except Exception as exc:  # e.g. an invalid URL in the valves
            raise ToolError(f"{_NAME} request to {base} failed: {exc}") from None
        if response.status_code == 401:
            raise ToolError(
                f"{_NAME} rejected the API key (401): {_error_message(response)}. "
                "Set a valid key in the tool's valves."
            )
        if response.status_code >= 400:
            raise ToolError(f"{_NAME} returned an error ({response.status_code}): {_error_message(response)}")
        try:
            data = response.json()
        except (json.JSONDecodeError, ValueError):
            raise ToolError(f"{_NAME} at {base} returned a response that is not JSON.") from None
        if not isinstance(data, dict):
            raise ToolError(f"{_NAME} at {base} returned an unexpected response.")
        return data

    def _show(self, user: dict[str, Any] | None) -> bool:
        valves = (user or {}).get("valves")
        return bool(getattr(valves, "show_passages", True))

    @staticmethod
    async def _emit(emitter: EventEmitter | None, event: dict[str, Any]) -> None:
        if emitter is None:
            return
        try:
            await emitter(event)
        except Exception:  # a broken emitter must never break the answer
            return

    async def _status(self, emitter: EventEmitter | None, description: str, done: bool) -> None:
        await self._emit(emitter, {"type": "status", "data": {"description": description, "done": done}})

    async def _citation(self, emitter: EventEmitter | None, item: dict[str, Any], text: str) -> None:
        name = _file_name(str(item.get("source") or "unknown"))
        metadata = {
            "source": name,
            "name": _label(item),
            "page": item.get("page"),
            "section": item.get("section"),
            "path": item.get("source"),
            "doc_id": item.get("doc_id"),
            "chunk_id": item.get("chunk_id"),
            "score": item.get("score"),
        }
        await self._emit(
            emitter,
            {
                "type": "citation",
                "data": {
                    "document": [text],
                    "metadata": [{k: v for k, v in metadata.items() if v is not None}],
                    "source": {"name": _label(item)},
                },
            },
        )
