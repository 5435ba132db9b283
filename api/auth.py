"""API keys: `Authorization: Bearer <key>`, compared in constant time, on every path but /health."""

from __future__ import annotations

import hmac
import ipaddress

from starlette.types import ASGIApp, Receive, Scope, Send

from api.errors import error_response
from rag.config import Settings
from rag.errors import AuthenticationError, ConfigError

OPEN_PATHS = frozenset({"/health"})


def check_auth_policy(settings: Settings, host: str | None = None) -> list[str]:
    """The API keys to require, or ConfigError when the settings would open the documents to anyone:
    no keys and auth not switched off, or auth switched off on an address other machines reach."""
    keys = settings.api_key_list()
    if not keys and not settings.auth_disabled:
        raise ConfigError(
            "No API keys configured: set RAG_API_KEYS (comma-separated) or RAG_API_KEYS_FILE, or "
            "RAG_AUTH_DISABLED=true for local use on 127.0.0.1."
        )
    if settings.auth_disabled and host is not None and not is_loopback(host):
        raise ConfigError(
            f"Refusing to serve on {host} with RAG_AUTH_DISABLED=true: anyone on the network could read "
            "your documents. Set RAG_API_KEYS, or listen on 127.0.0.1."
        )
    return keys


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


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
