"""The one place where errors become HTTP: RagError subclasses map to status codes and a JSON body
``{"error": {"code", "message"}}``. No stack trace ever reaches a client; the log has it, with the
request id the client also gets in ``X-Request-ID``."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from rag import errors as e

log = logging.getLogger("rag.api")

# Most specific first: the first matching class decides.
STATUS_BY_ERROR: list[tuple[type[e.RagError], int]] = [
    (e.AuthenticationError, 401),
    (e.HostNotAllowedError, 400),
    (e.CrossSiteRequestError, 403),
    (e.PermissionDeniedError, 403),
    (e.NotFoundError, 404),
    (e.PayloadTooLargeError, 413),
    (e.UnsupportedFileError, 415),
    (e.DocumentError, 422),
    (e.InputError, 422),
    (e.TooBusyError, 429),
    (e.StoreMismatchError, 409),
    (e.StaleWriteError, 409),
    (e.DiskFullError, 507),
    (e.StoreLockedError, 503),
    (e.ServiceUnavailableError, 503),
    (e.ConfigError, 500),
    (e.StoreError, 500),
    (e.RagError, 500),
]

SERVICE_UNAVAILABLE_RETRY_AFTER_S = 5


def status_for(error: e.RagError) -> int:
    return next(status for cls, status in STATUS_BY_ERROR if isinstance(error, cls))


def error_body(code: str, message: str) -> dict[str, dict[str, str]]:
    return {"error": {"code": code, "message": message}}


def error_response(error: e.RagError) -> JSONResponse:
    headers = {}
    if isinstance(error, e.TooBusyError):
        headers["Retry-After"] = str(error.retry_after_s)
    elif isinstance(error, e.ServiceUnavailableError):
        # A dependency is down or failing over (a Qdrant node, Ollama): the store has already retried
        # with backoff, so a client (or haproxy's health check) should wait a few seconds, not hammer.
        headers["Retry-After"] = str(SERVICE_UNAVAILABLE_RETRY_AFTER_S)
    elif isinstance(error, e.AuthenticationError):
        headers["WWW-Authenticate"] = "Bearer"
    return JSONResponse(error_body(error.code, error.message), status_code=status_for(error), headers=headers)


def install(app: FastAPI) -> None:
    @app.exception_handler(e.RagError)
    async def rag_error(request: Request, exc: e.RagError) -> JSONResponse:
        status = status_for(exc)
        if status >= 500:
            log.error("%s %s failed: %s", request.method, request.url.path, exc.message)
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            "The request body is not valid JSON."
            if err.get("type") == "json_invalid"
            else f"{'.'.join(str(p) for p in err['loc'] if p != 'body') or 'body'}: {err['msg']}"
            for err in exc.errors()
        )
        return JSONResponse(error_body("invalid_request", problems or "Invalid request."), status_code=422)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed", 413: e.PayloadTooLargeError.code}.get(
            exc.status_code, "http_error"
        )
        return JSONResponse(
            error_body(code, str(exc.detail)),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        request_id = getattr(request.state, "request_id", "-")
        log.exception("unhandled error in %s %s", request.method, request.url.path)
        return JSONResponse(
            error_body("internal_error", f"Internal error; quote request id {request_id} when reporting it."),
            status_code=500,
        )
