"""Request and response bodies of the REST API (they are the OpenAPI schema)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from api.presentation import document_json, hit_json
from ingest.jobs import Job
from rag.answer import Answer
from rag.citations import Citation
from rag.types import DocumentRecord, Hit, SearchFilters, SearchMode


class Filters(BaseModel):
    sources: list[str] = Field(default_factory=list, description="Only these source paths.")
    doc_ids: list[str] = Field(default_factory=list, description="Only these document ids.")
    file_types: list[str] = Field(default_factory=list, description="Only these types, e.g. pdf, docx.")

    def to_filters(self) -> SearchFilters:
        return SearchFilters(doc_ids=self.doc_ids, sources=self.sources, file_types=self.file_types)


class Turn(BaseModel):
    role: Literal["user", "assistant"]
    content: str = Field(max_length=20_000)


class QueryRequest(BaseModel):
    question: str = Field(min_length=1, max_length=4000, description="The question to answer.")
    top_k: int | None = Field(
        default=None, ge=1, le=50, description="Passages to consider (default from settings)."
    )
    filters: Filters | None = None
    history: list[Turn] = Field(
        default_factory=list, max_length=50, description="Earlier turns, oldest first."
    )
    stream: bool = Field(
        default=False, description="Server-Sent Events: `token` events, then one `answer` event."
    )
    passages_if_no_llm: bool = Field(
        default=False,
        description="If the LLM cannot be reached, answer with the best passages (clearly labelled) "
        "instead of 503, as `rag ask --passages-if-no-llm` does.",
    )


_OCR = (
    "Present (true) when the passage was read from a page image by OCR (a scan, a photo): it may hold "
    "misread words."
)


class CitationOut(BaseModel):
    n: int
    source: str
    page: int | None
    section: str | None
    quote: str
    score: float
    doc_id: str
    chunk_id: str
    origin: str
    supported: bool = Field(
        description="False when the sentences citing it hold nothing to check: the marker is the "
        "model's word."
    )
    ocr: bool = Field(default=False, exclude_if=lambda ocr: not ocr, description=_OCR)

    @classmethod
    def of(cls, citation: Citation) -> CitationOut:
        return cls(**{name: getattr(citation, name) for name in cls.model_fields})


class QueryResponse(BaseModel):
    question: str = Field(
        description="The question as used for retrieval (condensed when history was given)."
    )
    answer: str
    citations: list[CitationOut]
    refused: bool
    refusal_reason: str | None
    grounded: bool
    unsupported: list[str] = Field(
        description="Sentences the model cited but no passage supports; their markers were removed. For a "
        "withheld answer, the model's whole text."
    )
    extractive: bool
    withheld: bool = Field(
        description="The model's answer was withheld (RAG_UNGROUNDED_ANSWERS=withhold): no passage supports "
        "it. A stream has sent its tokens already: show `answer` in their place."
    )
    model: str | None
    timings: dict[str, float]

    @classmethod
    def of(cls, answer: Answer) -> QueryResponse:
        return cls(
            question=answer.question,
            answer=answer.answer,
            citations=[CitationOut.of(c) for c in answer.citations],
            refused=answer.refused,
            refusal_reason=answer.refusal_reason,
            grounded=answer.grounded,
            unsupported=answer.unsupported,
            extractive=answer.extractive,
            withheld=answer.withheld,
            model=answer.model,
            timings=answer.timings,
        )


class SearchRequest(BaseModel):
    query: str = Field(min_length=1, max_length=4000)
    top_k: int | None = Field(default=None, ge=1, le=100)
    filters: Filters | None = None
    mode: SearchMode | None = None


class HitOut(BaseModel):
    text: str
    source: str
    page: int | None
    section: str | None
    score: float
    doc_id: str
    chunk_id: str
    ocr: bool = Field(default=False, exclude_if=lambda ocr: not ocr, description=_OCR)

    @classmethod
    def of(cls, hit: Hit) -> HitOut:
        return cls(**hit_json(hit))


class SearchResponse(BaseModel):
    query: str
    hits: list[HitOut]


class DocumentOut(BaseModel):
    doc_id: str
    source: str
    hash: str
    chunks: int
    ingested_at: str
    file_type: str
    title: str

    @classmethod
    def of(cls, record: DocumentRecord) -> DocumentOut:
        return cls(**document_json(record), title=record.title)


class FailedFileOut(BaseModel):
    source: str
    error: str
    failed_at: str


class DocumentList(BaseModel):
    documents: list[DocumentOut] = Field(default_factory=list)
    failed: list[FailedFileOut] = Field(default_factory=list)
    total: int
    offset: int
    limit: int
    next_cursor: str | None = Field(
        default=None,
        description="Pass as `cursor` for the next page (a seek, fast however deep); null on the last page.",
    )


class UploadResponse(BaseModel):
    outcome: Literal["added", "updated", "unchanged"]
    document: DocumentOut


class JobError(BaseModel):
    code: str
    message: str


class JobOut(BaseModel):
    """An upload being ingested in the background; poll ``GET /v1/jobs/{id}`` until ``status`` is
    ``done`` (``outcome`` and ``document`` set) or ``failed`` (``error`` says why and what to do)."""

    id: str
    status: Literal["queued", "running", "done", "failed"]
    file: str
    created_at: str
    finished_at: str | None = None
    outcome: Literal["added", "updated", "unchanged"] | None = None
    document: DocumentOut | None = None
    error: JobError | None = None

    @classmethod
    def of(cls, job: Job) -> JobOut:
        return cls(
            id=job.id,
            status=job.status.value,
            file=job.file_name,
            created_at=job.created_at,
            finished_at=job.finished_at,
            outcome=job.outcome.value if job.outcome else None,  # type: ignore[arg-type]
            document=DocumentOut.of(job.document) if job.document else None,
            error=JobError(code=job.error.code, message=job.error.message) if job.error else None,
        )


class DeleteResponse(BaseModel):
    deleted: str
    source: str
    chunks: int


class Check(BaseModel):
    ok: bool
    detail: str


class ReadyResponse(BaseModel):
    ready: bool
    checks: dict[str, Check]
