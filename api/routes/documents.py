from __future__ import annotations

import base64
import binascii
import bisect
import re
import unicodedata
import uuid
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, Query, Response, UploadFile

from api.deps import AdminDep, CallerDep, ServicesDep
from api.schemas import DeleteResponse, DocumentList, DocumentOut, FailedFileOut, JobOut, UploadResponse
from ingest.parse import FILE_TYPES, file_type_of
from ingest.service import Outcome
from rag.access import DocumentAccess
from rag.disk import disk_full_error, ensure_free_space, is_disk_full
from rag.errors import (
    InputError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    UnsupportedFileError,
)
from rag.types import SearchFilters

router = APIRouter(prefix="/v1", tags=["documents"])
_UNSAFE = re.compile(r"[^\w.\- ()]+")


@router.get("/documents", response_model=DocumentList, summary="List documents (or failed files)")
def list_documents(
    svc: ServicesDep,
    caller: CallerDep,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    status: Annotated[Literal["ingested", "failed"], Query()] = "ingested",
    cursor: Annotated[str | None, Query(max_length=8192, description="a page's next_cursor")] = None,
) -> DocumentList:
    """By source. Page with ``offset`` (simple, slow deep into a large ledger) or with ``cursor``,
    the previous page's ``next_cursor`` (``offset`` then counts from the cursor)."""
    after = _after(cursor)
    if status == "failed":
        if not caller.unrestricted:
            raise PermissionDeniedError("Failed files are listed for admin keys only.")
        failures = svc.ledger.failures()
        page = failures[offset : offset + limit]
        failed = [FailedFileOut(source=f.source, error=f.error, failed_at=f.failed_at) for f in page]
        return DocumentList(failed=failed, total=len(failures), offset=offset, limit=limit)
    if caller.unrestricted:
        records = svc.ledger.documents(offset=offset, limit=limit, after=after)
        total = svc.ledger.count()
    else:
        visible = svc.readable_documents(caller)
        start = 0 if after is None else bisect.bisect_right([r.source for r in visible], after)
        records, total = visible[start + offset : start + offset + limit], len(visible)
    svc.record(caller, "documents", doc_ids=[r.doc_id for r in records])
    return DocumentList(
        documents=[DocumentOut.of(r) for r in records],
        total=total,
        offset=offset,
        limit=limit,
        next_cursor=_cursor(records[-1].source) if len(records) == limit else None,
    )


def _cursor(source: str) -> str:
    """Opaque to clients: the last source of a page, which they need not parse or see whole."""
    return base64.urlsafe_b64encode(source.encode("utf-8")).decode("ascii")


def _after(cursor: str | None) -> str | None:
    """The source a cursor names. Strict UTF-8 without NUL, as every ledger source is: anything else
    would reach the database as text it refuses (a 500), so it is a 422 here."""
    if cursor is None:
        return None
    try:
        after = base64.urlsafe_b64decode(cursor.encode("ascii")).decode("utf-8")
        if "\0" in after:
            raise ValueError("a NUL in a source")
    except (ValueError, binascii.Error, UnicodeError) as exc:
        raise InputError("cursor is not one this server gave: pass a page's next_cursor as it is.") from exc
    return after


@router.get("/documents/{doc_id}", response_model=DocumentOut, summary="One document")
def get_document(doc_id: str, svc: ServicesDep, caller: CallerDep) -> DocumentOut:
    record = svc.ledger.get(doc_id)
    readable = caller.unrestricted or (
        record is not None
        and svc.kb.existing_store().count(caller.scope(SearchFilters(doc_ids=[doc_id]))) > 0
    )
    if record is None or not readable:  # the same answer: a hidden document does not exist for you
        raise NotFoundError(f"No document with id {doc_id!r}: GET /v1/documents lists them.")
    svc.record(caller, "documents", doc_ids=[doc_id])
    return DocumentOut.of(record)


@router.delete("/documents/{doc_id}", response_model=DeleteResponse, summary="Remove a document")
def delete_document(doc_id: str, svc: ServicesDep, caller: AdminDep) -> DeleteResponse:
    if svc.ledger.get(doc_id) is None:
        raise NotFoundError(f"No document with id {doc_id!r}: GET /v1/documents lists them.")
    with svc.ingest_lock:
        record = svc.ingest.remove(doc_id)
        uploaded = Path(record.source)
        if uploaded.parent == svc.settings.uploads_dir.resolve():
            uploaded.unlink(missing_ok=True)  # our own copy of an uploaded file
    svc.record(caller, "delete", doc_ids=[record.doc_id])
    return DeleteResponse(deleted=record.doc_id, source=record.source, chunks=record.chunks)


@router.post(
    "/documents",
    response_model=None,  # one of the models below, by status
    status_code=202,
    summary="Upload a file; it is ingested in the background",
    responses={
        202: {"model": JobOut, "description": "Stored; poll the job (`Location`) for the outcome."},
        201: {"model": UploadResponse, "description": "With `wait=true`: the file was ingested."},
        200: {"model": UploadResponse, "description": "With `wait=true`: this content was already ingested."},
    },
)
def upload_document(
    file: Annotated[UploadFile, File()],
    svc: ServicesDep,
    response: Response,
    caller: AdminDep,
    wait: Annotated[bool, Query(description="Answer once the file is ingested, not once stored.")] = False,
    access: Annotated[
        str | None,
        Form(
            description="Who may read it, instead of the access rules: group names and `user:<e-mail>`, "
            "comma-separated, e.g. `hr,user:ceo@example.com`; `everyone` for any caller."
        ),
    ] = None,
) -> JobOut | UploadResponse:
    """Stores the file and answers 202 with a job (``Location: /v1/jobs/{id}``); the file is then
    parsed, chunked and embedded in the background. An upload that cannot be read never replaces an
    earlier good upload of the same name."""
    name = safe_file_name(file.filename or "")
    if file_type_of(Path(name)) is None:
        supported = ", ".join(sorted(FILE_TYPES))
        raise UnsupportedFileError(
            f"Files of type {Path(name).suffix or '(none)'!r} are not supported: {supported}."
        )
    uploads = svc.settings.uploads_dir
    uploads.mkdir(parents=True, exist_ok=True)
    # Hidden: never taken for a document, and removed at the next start if its job never ran.
    staged = uploads / f".{uuid.uuid4().hex}.part{Path(name).suffix}"
    try:
        _store(file, staged, svc.settings.max_upload_mb, svc.settings.min_free_disk_mb)
        job = svc.jobs.submit(staged, uploads / name, access_labels(access))
    except BaseException:
        staged.unlink(missing_ok=True)
        raise
    svc.record(caller, "upload", file=name, job=job.id)
    if not wait:
        response.headers["Location"] = f"/v1/jobs/{job.id}"
        return JobOut.of(job)
    job.wait()
    if job.error is not None:
        raise job.error
    assert job.outcome is not None and job.document is not None
    response.status_code = 200 if job.outcome == Outcome.UNCHANGED else 201
    return UploadResponse(outcome=job.outcome.value, document=DocumentOut.of(job.document))  # type: ignore[arg-type]


@router.get("/jobs/{job_id}", response_model=JobOut, summary="How an upload's ingest went")
def get_job(job_id: str, svc: ServicesDep, _: AdminDep) -> JobOut:
    job = svc.jobs.get(job_id)
    if job is None:
        days = svc.settings.job_retention_days
        kept = (
            "jobs are kept in the ingest queue's database "
            + (f"for {days} days (RAG_JOB_RETENTION_DAYS)" if days > 0 else "until removed")
            if svc.settings.database_url is not None
            else "jobs are kept until the server restarts (the last 1000)"
        )
        raise NotFoundError(f"No upload job {job_id!r}: {kept}; GET /v1/documents lists what is ingested.")
    return JobOut.of(job)


def _store(file: UploadFile, staged: Path, max_upload_mb: int, min_free_disk_mb: int) -> None:
    limit = max_upload_mb * 1024 * 1024
    written = 0
    try:
        with staged.open("wb") as out:
            while block := file.file.read(1 << 20):
                written += len(block)
                if written > limit:
                    raise PayloadTooLargeError(
                        f"The file is larger than {max_upload_mb} MB (RAG_MAX_UPLOAD_MB)."
                    )
                ensure_free_space(staged.parent, len(block), min_free_disk_mb)
                out.write(block)
    except OSError as exc:
        if is_disk_full(exc):
            raise disk_full_error(staged.parent) from exc
        raise


def access_labels(value: str | None) -> list[str] | None:
    """The ``access`` form field as access labels; None (not given): the access rules decide."""
    if value is None:
        return None
    names = [n.strip() for n in value.split(",") if n.strip()]
    if not names:
        raise InputError("`access` is empty: name at least one group (or `everyone`), or leave it out.")
    users = [n.removeprefix("user:") for n in names if n.startswith("user:")]
    groups = [n.removeprefix("group:") for n in names if not n.startswith("user:")]
    return DocumentAccess.of(groups, users).labels()


def safe_file_name(raw: str) -> str:
    """The last path component, with anything but letters, digits and ._-() replaced."""
    name = unicodedata.normalize("NFC", raw.replace("\\", "/").rsplit("/", 1)[-1])
    name = _UNSAFE.sub("_", name).strip(" .")[:200]
    if not name or not Path(name).stem:
        raise InputError("The upload has no file name: send it as multipart field `file` with a filename.")
    return name
