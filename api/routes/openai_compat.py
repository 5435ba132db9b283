"""The knowledge base as an OpenAI "model": Open WebUI or any OpenAI client can chat with it.

Citations survive the trip: a "Sources" section is appended to the text, and the structured list is in
an extra ``citations`` field of the response (and of the last stream chunk)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any, Literal

from fastapi import APIRouter
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from api.deps import CallerDep, ServicesDep
from api.errors import error_body
from api.schemas import CitationOut
from rag.answer import Answer
from rag.errors import InputError, RagError
from rag.generation import Message
from rag.labels import file_name, place
from rag.prompt import WITHHELD_NOTICE

_STREAM_DOC = "With stream=true: chat.completion.chunk events, then [DONE]."

router = APIRouter(prefix="/v1", tags=["openai-compatible"])
MODEL_ID = "private-rag"


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "user", "assistant", "tool", "developer"]
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):  # content parts: keep the text ones
            return "\n".join(str(p.get("text", "")) for p in self.content if p.get("type") == "text")
        return self.content or ""


class ChatCompletionRequest(BaseModel):
    model_config = ConfigDict(extra="allow")  # temperature, top_p, ... are accepted and ignored
    model: str = MODEL_ID
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int = 0
    owned_by: str = "private-rag"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class Choice(BaseModel):
    index: int = 0
    message: AssistantMessage
    finish_reason: Literal["stop"] = "stop"


class Usage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: Usage = Field(default_factory=Usage)
    citations: list[CitationOut] = Field(default_factory=list, description="The sources behind [n] markers.")


@router.get("/models", response_model=ModelList, summary="The knowledge base as a model")
def models() -> ModelList:
    return ModelList(data=[ModelCard(id=MODEL_ID)])


@router.post(
    "/chat/completions",
    response_model=ChatCompletion,
    summary="OpenAI-compatible chat over the knowledge base",
    responses={200: {"content": {"text/event-stream": {"description": _STREAM_DOC}}}},
)
def chat_completions(
    body: ChatCompletionRequest, svc: ServicesDep, caller: CallerDep
) -> ChatCompletion | StreamingResponse:
    question, history = _split(body.messages)
    completion_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
    created = int(time.time())
    if not body.stream:
        answer = svc.answer(caller, question, history)
        return ChatCompletion(
            id=completion_id,
            created=created,
            model=body.model,
            choices=[Choice(message=AssistantMessage(content=with_sources(answer)))],
            citations=[CitationOut.of(c) for c in answer.citations],
        )
    events = svc.answer_events(caller, question, history)

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
        payload = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": body.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            **extra,
        }
        return f"data: {json.dumps(payload)}\n\n"

    def stream() -> Iterator[str]:
        try:
            yield chunk({"role": "assistant", "content": ""})
            streamed = False
            for event in events:
                if event.answer is None:
                    streamed = True
                    yield chunk({"content": event.text})
                    continue
                answer = event.answer
                if not streamed:
                    tail = with_sources(answer)
                elif answer.withheld:  # its tokens were shown: say they are not to be relied on
                    tail = "\n\n" + WITHHELD_NOTICE
                else:
                    tail = sources_section(answer)
                citations = [CitationOut.of(c).model_dump() for c in answer.citations]
                if tail:
                    yield chunk({"content": tail})
                yield chunk({}, "stop", citations=citations)
        except RagError as exc:
            yield f"data: {json.dumps(error_body(exc.code, exc.message))}\n\n"
        yield "data: [DONE]\n\n"

    return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})


def _split(messages: list[ChatMessage]) -> tuple[str, list[Message]]:
    turns = [m for m in messages if m.role in ("user", "assistant")]
    if not turns or turns[-1].role != "user" or not turns[-1].text().strip():
        raise InputError("The last message must be a non-empty user message: that is the question.")
    history = [Message(m.role, m.text()) for m in turns[:-1]]  # type: ignore[arg-type]
    return turns[-1].text(), history


def sources_section(answer: Answer) -> str:
    if not answer.citations or answer.extractive:
        return ""
    lines = ["", "", "Sources:"]
    for c in answer.citations:
        where = place(file_name(c.source), c.page, c.section, ocr=c.ocr)
        lines.append(f'[{c.n}] {where}: "{" ".join(c.quote.split())}"')
    return "\n".join(lines)


def with_sources(answer: Answer) -> str:
    return answer.answer + sources_section(answer)
