"""``create_app(settings)``: the FastAPI application over the same services the CLI uses."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from api import errors
from api.auth import ApiKeyMiddleware, HostCheckMiddleware, check_auth_policy
from api.body_limit import BodyLimitMiddleware
from api.observability import Metrics, RequestContextMiddleware, RequestIdFilter
from api.routes import documents, health, openai_compat, query, search
from api.services import Services, open_services
from rag import __version__
from rag.config import Settings
from rag.embedding import Embedder

log = logging.getLogger("rag.api")


def create_app(
    settings: Settings, *, embedder: Embedder | None = None, services: Services | None = None
) -> FastAPI:
    """Build the app. Stores and models open when it starts serving (unless ``services`` were opened
    already, as `rag serve` does to report a locked data dir before it serves) and close when it stops."""
    keys = check_auth_policy(settings)

    pre_opened = [services] if services is not None else []  # used by the first start only

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        opened = pre_opened.pop() if pre_opened else open_services(settings, embedder, metrics, serving=True)
        opened.metrics = metrics
        app.state.services = opened
        log.info("private-rag API ready: %s documents", opened.ledger.count())
        try:
            yield
        finally:
            opened.close()

    app = FastAPI(
        title="private-rag",
        version=__version__,
        description="Ask questions of your own documents, on your own servers. "
        "Every answer cites its sources.",
        lifespan=lifespan,
    )
    metrics = Metrics(lambda: _size(app))
    app.state.metrics = metrics
    errors.install(app)
    for router in (query.router, search.router, documents.router, openai_compat.router, health.router):
        app.include_router(router)
    if not settings.auth_disabled:
        app.add_middleware(ApiKeyMiddleware, keys=keys)
    allowed = settings.allowed_host_names()
    if allowed is not None:
        app.add_middleware(HostCheckMiddleware, allowed=allowed, check_origin=settings.auth_disabled)
    app.add_middleware(BodyLimitMiddleware, max_upload_mb=settings.max_upload_mb)
    app.add_middleware(RequestContextMiddleware, metrics=metrics)
    _document_bearer_auth(app, enabled=not settings.auth_disabled)
    _add_request_ids_to_logs()
    return app


def _size(app: FastAPI) -> tuple[int, int]:
    services: Services | None = getattr(app.state, "services", None)
    return services.size() if services else (0, 0)


def _document_bearer_auth(app: FastAPI, enabled: bool) -> None:
    """Show the API-key scheme in /docs and /openapi.json (the middleware enforces it)."""
    if not enabled:
        return
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            schema.setdefault("components", {})["securitySchemes"] = {
                "bearer": {"type": "http", "scheme": "bearer", "description": "An API key from RAG_API_KEYS."}
            }
            schema["security"] = [{"bearer": []}]
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _add_request_ids_to_logs() -> None:
    root = logging.getLogger()
    for handler in root.handlers:
        if not any(isinstance(f, RequestIdFilter) for f in handler.filters):
            handler.addFilter(RequestIdFilter())
