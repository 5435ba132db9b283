from __future__ import annotations

import json
from collections.abc import Iterator

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from api.deps import CallerDep, ServicesDep
from api.errors import error_body
from api.schemas import QueryRequest, QueryResponse
from rag.errors import RagError
from rag.generation import Message

_STREAM_DOC = "With stream=true: token events, then one answer event (a QueryResponse)."

router = APIRouter(prefix="/v1", tags=["answers"])


def sse(event: str, data: object) -> str:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n"


@router.post(
    "/query",
    response_model=QueryResponse,
    summary="Answer a question with citations",
    responses={200: {"content": {"text/event-stream": {"description": _STREAM_DOC}}}},
)
def query(body: QueryRequest, svc: ServicesDep, caller: CallerDep) -> QueryResponse | StreamingResponse:
    history = [Message(t.role, t.content) for t in body.history]
    filters = body.filters.to_filters() if body.filters else None
    fallback = body.passages_if_no_llm
    if not body.stream:
        return QueryResponse.of(
            svc.answer(
                caller, body.question, history, filters, top_k=body.top_k, fallback_to_passages=fallback
            )
        )
    events = svc.answer_events(
        caller, body.question, history, filters, top_k=body.top_k, fallback_to_passages=fallback
    )

    def stream() -> Iterator[str]:
        try:
            for event in events:
                if event.answer is not None:
                    yield sse("answer", QueryResponse.of(event.answer).model_dump())
                else:
                    yield sse("token", {"text": event.text})
        except RagError as exc:
            yield sse("error", error_body(exc.code, exc.message))

    return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
