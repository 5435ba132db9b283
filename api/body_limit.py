"""Request bodies are capped before they are read: from Content-Length when the client sends one, and
while streaming otherwise (chunked bodies). An upload may be RAG_MAX_UPLOAD_MB (plus the multipart
envelope); every other endpoint takes JSON, for which 2 MiB is far above the largest valid request."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import error_response
from rag.errors import PayloadTooLargeError

JSON_BODY_LIMIT = 2 * 1024 * 1024
_MULTIPART_ENVELOPE = 64 * 1024  # boundaries and part headers around the file
UPLOAD_PATH = "/v1/documents"


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_upload_mb: int) -> None:
        self._app = app
        self._upload_limit = max_upload_mb * 1024 * 1024 + _MULTIPART_ENVELOPE
        self._upload_message = f"The file is larger than {max_upload_mb} MB (RAG_MAX_UPLOAD_MB)."
        self._json_message = f"The request body is larger than {JSON_BODY_LIMIT // (1024 * 1024)} MB."

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        upload = scope["path"] == UPLOAD_PATH and scope["method"] == "POST"
        limit = self._upload_limit if upload else JSON_BODY_LIMIT
        message_text = self._upload_message if upload else self._json_message
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            await error_response(PayloadTooLargeError(message_text))(scope, receive, send)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # An HTTPException: FastAPI turns anything else raised while it reads a body into a 400.
                    raise HTTPException(413, detail=message_text)
            return message

        await self._app(scope, counting_receive, send)
