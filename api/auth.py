"""API keys: `Authorization: Bearer <key>`, compared in constant time, on every path but /health."""

from __future__ import annotations

import hmac

from starlette.types import ASGIApp, Receive, Scope, Send

from api.errors import error_response
from rag.errors import AuthenticationError

OPEN_PATHS = frozenset({"/health"})


class ApiKeyMiddleware:
    def __init__(self, app: ASGIApp, keys: list[str]) -> None:
        self._app = app
        self._keys = [k.encode() for k in keys]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS:
            await self._app(scope, receive, send)
            return
        header = dict(scope["headers"]).get(b"authorization", b"")
        scheme, _, token = header.partition(b" ")
        if scheme.lower() != b"bearer" or not self._valid(token.strip()):
            message = (
                "Missing API key: send `Authorization: Bearer <key>`." if not header else "Invalid API key."
            )
            await error_response(AuthenticationError(message))(scope, receive, send)
            return
        await self._app(scope, receive, send)

    def _valid(self, token: bytes) -> bool:
        # Compare against every key (no early exit) so timing says nothing about which one was close.
        matched = False
        for key in self._keys:
            matched |= hmac.compare_digest(token, key)
        return matched
