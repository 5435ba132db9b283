"""The one error hierarchy of private-rag.

Adapters translate library exceptions into these (``raise ... from exc``). Every message says what
happened and what to do next; the CLI prints it, the API maps the class to a status code in one place.
"""

from __future__ import annotations


class RagError(Exception):
    """Base class. ``code`` is a stable machine-readable identifier."""

    code = "rag_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigError(RagError):
    code = "invalid_configuration"


class NotFoundError(RagError):
    code = "not_found"


class InputError(RagError):
    """The caller's input is wrong (bad query file, bad filter, ...)."""

    code = "invalid_input"


class DocumentError(RagError):
    """One file could not be ingested. Reported per file; never stops a batch."""

    code = "document_error"


class UnsupportedFileError(DocumentError):
    code = "unsupported_file_type"


class EmptyDocumentError(DocumentError):
    code = "empty_document"


class ServiceUnavailableError(RagError):
    """A model server or the store cannot be reached right now."""

    code = "service_unavailable"


class EmbedderUnavailableError(ServiceUnavailableError):
    code = "embedder_unavailable"


class LLMUnavailableError(ServiceUnavailableError):
    code = "llm_unavailable"


class ModelNotFoundError(ServiceUnavailableError):
    code = "model_not_found"


class StoreError(RagError):
    code = "store_error"


class StoreLockedError(StoreError):
    """Another process owns the embedded store's data dir."""

    code = "store_locked"


class DiskFullError(StoreError):
    """The data dir's disk has (or would have after this write) less free space than the reserve."""

    code = "disk_full"


class StoreMismatchError(StoreError):
    """The store was built with another embedder or dimension."""

    code = "store_mismatch"


class StaleWriteError(RagError):
    """A write of a document based on an out-of-date read lost to a newer write of it (two workers on one
    file, one of them presumed dead): the newer result stands and this one was discarded. Nothing to do:
    the document is ingested."""

    code = "stale_write"


class AuthenticationError(RagError):
    code = "unauthorized"


class PermissionDeniedError(RagError):
    """A valid key asking for something its role does not allow (an upload with a reader key)."""

    code = "forbidden"


class PayloadTooLargeError(InputError):
    code = "payload_too_large"


class HostNotAllowedError(RagError):
    """A request for a host name the server does not answer to (DNS rebinding, or a missing entry in
    RAG_ALLOWED_HOSTS)."""

    code = "host_not_allowed"


class CrossSiteRequestError(RagError):
    """A browser request from another site that would change the knowledge base with no API key."""

    code = "cross_site_request"


class TooBusyError(RagError):
    """More answers are running and waiting than the server accepts; try again after ``retry_after_s``."""

    code = "too_busy"

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s
