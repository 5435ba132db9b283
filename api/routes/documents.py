from __future__ import annotations

import dataclasses
import re
import unicodedata
import uuid
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, File, Query, Response, UploadFile

from api.deps import ServicesDep
from api.schemas import DeleteResponse, DocumentList, DocumentOut, FailedFileOut, UploadResponse
from ingest.parse import FILE_TYPES, file_type_of, parse_file, title_from_name
from ingest.service import Outcome
from rag.errors import InputError, NotFoundError, PayloadTooLargeError, UnsupportedFileError

router = APIRouter(prefix="/v1", tags=["documents"])
_UNSAFE = re.compile(r"[^\w.\- ()]+")


@router.get("/documents", response_model=DocumentList, summary="List documents (or failed files)")
def list_documents(
    svc: ServicesDep,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    status: Annotated[Literal["ingested", "failed"], Query()] = "ingested",
) -> DocumentList:
    if status == "failed":
        failures = svc.ledger.failures()
        page = failures[offset : offset + limit]
        failed = [FailedFileOut(source=f.source, error=f.error, failed_at=f.failed_at) for f in page]
        return DocumentList(failed=failed, total=len(failures), offset=offset, limit=limit)
    records = svc.ledger.documents(offset=offset, limit=limit)
    return DocumentList(
        documents=[DocumentOut.of(r) for r in records], total=svc.ledger.count(), offset=offset, limit=limit
    )


@router.get("/documents/{doc_id}", response_model=DocumentOut, summary="One document")
def get_document(doc_id: str, svc: ServicesDep) -> DocumentOut:
    record = svc.ledger.get(doc_id)
    if record is None:
        raise NotFoundError(f"No document with id {doc_id!r}: GET /v1/documents lists them.")
    return DocumentOut.of(record)


@router.delete("/documents/{doc_id}", response_model=DeleteResponse, summary="Remove a document")
def delete_document(doc_id: str, svc: ServicesDep) -> DeleteResponse:
    if svc.ledger.get(doc_id) is None:
        raise NotFoundError(f"No document with id {doc_id!r}: GET /v1/documents lists them.")
    with svc.ingest_lock:
        record = svc.ingest.remove(doc_id)
        uploaded = Path(record.source)
        if uploaded.parent == svc.settings.uploads_dir.resolve():
            uploaded.unlink(missing_ok=True)  # our own copy of an uploaded file
    return DeleteResponse(deleted=record.doc_id, source=record.source, chunks=record.chunks)


@router.post(
    "/documents",
    response_model=UploadResponse,
    status_code=201,
    summary="Upload and ingest a file",
    responses={200: {"model": UploadResponse, "description": "The same content was already ingested."}},
)
def upload_document(
    file: Annotated[UploadFile, File()], svc: ServicesDep, response: Response
) -> UploadResponse:
    name = safe_file_name(file.filename or "")
    if file_type_of(Path(name)) is None:
        supported = ", ".join(sorted(FILE_TYPES))
        raise UnsupportedFileError(
            f"Files of type {Path(name).suffix or '(none)'!r} are not supported: {supported}."
        )
    uploads = svc.settings.uploads_dir
    uploads.mkdir(parents=True, exist_ok=True)
    partial = (
        uploads / f".{uuid.uuid4().hex}.part{Path(name).suffix}"
    )  # hidden: never picked up as a document
    limit = svc.settings.max_upload_mb * 1024 * 1024
    try:
        written = 0
        with partial.open("wb") as out:
            while block := file.file.read(1 << 20):
                written += len(block)
                if written > limit:
                    raise PayloadTooLargeError(
                        f"The file is larger than {svc.settings.max_upload_mb} MB (RAG_MAX_UPLOAD_MB)."
                    )
                out.write(block)
        # Refuse an unreadable file before it can replace a good upload of the same name; the parsed
        # content is then ingested as it is, not parsed a second time.
        target = uploads / name
        parsed = dataclasses.replace(parse_file(partial), title=title_from_name(target))
        with svc.ingest_lock:
            partial.replace(target)
            outcome, _ = svc.ingest.ingest_file(target, parsed)
        svc.count_ingested(outcome.value)
    finally:
        partial.unlink(missing_ok=True)
    record = svc.ledger.by_source(str(target.resolve()))
    assert record is not None
    if outcome == Outcome.UNCHANGED:
        response.status_code = 200
    return UploadResponse(outcome=outcome.value, document=DocumentOut.of(record))  # type: ignore[arg-type]


def safe_file_name(raw: str) -> str:
    """The last path component, with anything but letters, digits and ._-() replaced."""
    name = unicodedata.normalize("NFC", raw.replace("\\", "/").rsplit("/", 1)[-1])
    name = _UNSAFE.sub("_", name).strip(" .")[:200]
    if not name or not Path(name).stem:
        raise InputError("The upload has no file name: send it as multipart field `file` with a filename.")
    return name
