"""API keys: `Authorization: Bearer <key>`, compared in constant time, on every path but /health."""

from __future__ import annotations

import ipaddress

from starlette.types import ASGIApp, Receive, Scope, Send

from api.errors import error_response
from api.principals import KeyRing
from rag.config import Settings
from rag.errors import (
    AuthenticationError,
    ConfigError,
    CrossSiteRequestError,
    HostNotAllowedError,
    RagError,
)

OPEN_PATHS = frozenset({"/health"})


class HostCheckMiddleware:
    """Answers only to the allowed Host names and, with API keys off, refuses state-changing requests
    that a browser sends from another site (their Origin names a host that is not allowed)."""

    def __init__(self, app: ASGIApp, allowed: frozenset[str], check_origin: bool) -> None:
        self._app = app
        self._allowed = allowed
        self._check_origin = check_origin

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        host = host_name(headers.get(b"host", b"").decode("latin-1"))
        error: RagError | None = None
        if host not in self._allowed:
            error = HostNotAllowedError(
                f"This server does not answer to the host name {host or '(none)'!r}: add it to "
                "RAG_ALLOWED_HOSTS if it is yours."
            )
        elif self._check_origin and scope["method"] not in SAFE_METHODS:
            origin = headers.get(b"origin", b"").decode("latin-1")
            if origin and host_name(origin.split("://", 1)[-1]) not in self._allowed:
                error = CrossSiteRequestError(
                    "Refusing a request from another web site: with RAG_AUTH_DISABLED=true only pages "
                    "served from an allowed host may change the knowledge base."
                )
        if error is not None:
            await error_response(error)(scope, receive, send)
            return
        await self._app(scope, receive, send)


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def host_name(value: str) -> str:
    """``Host``/``Origin`` authority without port or brackets, lower-cased: ``[::1]:8000`` -> ``::1``."""
    value = value.strip().lower().split("/", 1)[0]
    if value.startswith("["):
        return value[1:].split("]", 1)[0]
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


def check_auth_policy(settings: Settings, host: str | None = None) -> KeyRing:
    """The API keys to require, or ConfigError when the settings would open the documents to anyone:
    no keys and auth not switched off, or auth switched off on an address other machines reach."""
    keys = KeyRing(settings)
    if keys.empty and not settings.auth_disabled:
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
    """Finds the key's principal (``scope["state"]["key"]``); who the request then speaks for is
    worked out per route (api.deps.caller), off the event loop, since it may ask LDAP."""

    def __init__(self, app: ASGIApp, keys: KeyRing) -> None:
        self._app = app
        self._keys = keys

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS:
            await self._app(scope, receive, send)
            return
        header = dict(scope["headers"]).get(b"authorization", b"")
        scheme, _, token = header.partition(b" ")
        principal = self._keys.authenticate(token.strip()) if scheme.lower() == b"bearer" else None
        if principal is None:
            message = (
                "Missing API key: send `Authorization: Bearer <key>`." if not header else "Invalid API key."
            )
            await error_response(AuthenticationError(message))(scope, receive, send)
            return
        scope.setdefault("state", {})["key"] = principal
        await self._app(scope, receive, send)
