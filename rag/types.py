"""The few types that cross our interfaces. No framework types leak past the adapters."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, get_args

from rag.sparse import ANALYZER

LEGACY_ANALYZER = "qdrant-bm25"

SearchMode = Literal["hybrid", "dense", "sparse"]
SEARCH_MODES: tuple[SearchMode, ...] = get_args(SearchMode)


@dataclass(frozen=True, slots=True)
class ModelRef:
    """A model setting such as ``ollama:nomic-embed-text``: who runs it, and its name there."""

    kind: str
    name: str

    @classmethod
    def of(cls, value: str) -> ModelRef:
        """Split ``<kind>:<name>`` as it is (an embedder's recorded name); no kind: all of it is the name."""
        kind, sep, name = value.partition(":")
        return cls(kind, name) if sep else cls("", value)

    @classmethod
    def parse(cls, value: str, kinds: Sequence[str]) -> ModelRef:
        """Raises ValueError, naming the accepted forms, for anything but ``<kind>:<name>``."""
        ref = cls.of(value)
        if not ref.kind or not ref.name or ref.kind not in kinds:
            forms = ", ".join(f"`{k}:<model>`" for k in kinds)
            raise ValueError(f"must look like {forms}")
        return ref

    @property
    def basename(self) -> str:
        """The model's own name, without registry path or kind: ``all-minilm-l6-v2``."""
        return self.name.rsplit("/", 1)[-1].lower()


# Fixed namespace so ids are the same on every machine and every run.
_ID_NAMESPACE = uuid.UUID("5b0f3c53-8d3e-4d0b-9a53-6f2a0c7e1d42")


def document_id(source: str) -> str:
    """A document's id is derived from its source path: the same file always maps to the same id."""
    return str(uuid.uuid5(_ID_NAMESPACE, f"doc:{source}"))


def chunk_id(doc_id: str, content_sha256: str, index: int) -> str:
    """Deterministic point id. The content hash is part of it so a changed file's new chunks never
    overwrite the old ones in place: new chunks are written first, old ones deleted after."""
    return str(uuid.uuid5(_ID_NAMESPACE, f"chunk:{doc_id}:{content_sha256}:{index}"))


@dataclass(frozen=True, slots=True)
class Chunk:
    """A piece of one document, as stored in the index."""

    chunk_id: str
    doc_id: str
    source: str
    index: int
    text: str
    title: str
    section: str | None = None
    page: int | None = None
    file_type: str = ""
    sha256: str = ""
    # Labels of the groups and users who may read the document (rag.access); not part of the id, so
    # a document is re-labelled without re-embedding.
    access: tuple[str, ...] = ()
    # Read from a page image by OCR (a scan, a photo): its text may hold misread words, and answers
    # can say so. Not part of the id.
    ocr: bool = False

    @property
    def embed_text(self) -> str:
        """What the embedder and BM25 see: the body plus where it sits, so a chunk that only says
        "14 days" is still found by a question about the refund policy."""
        header = self.title if not self.section else f"{self.title} / {self.section}"
        return f"{header}\n{self.text}"


@dataclass(frozen=True, slots=True)
class Hit:
    chunk: Chunk
    score: float


@dataclass(frozen=True, slots=True)
class SearchFilters:
    """Restrict a search. Empty sequences mean "no restriction"."""

    doc_ids: Sequence[str] = ()
    sources: Sequence[str] = ()
    file_types: Sequence[str] = ()
    # The access labels the caller holds (rag.access.Principal.scope sets them); None: no restriction.
    access: Sequence[str] | None = None

    @property
    def empty(self) -> bool:
        return not (self.doc_ids or self.sources or self.file_types) and self.access is None

    def conditions(self) -> list[tuple[str, list[str]]]:
        """(payload field, allowed values) for each restriction in use; every store ANDs them."""
        fields = (("doc_id", self.doc_ids), ("source", self.sources), ("file_type", self.file_types))
        conditions = [(key, list(values)) for key, values in fields if values]
        if self.access is not None:
            conditions.append(("access", list(self.access)))
        return conditions


@dataclass(frozen=True, slots=True)
class StoreSpec:
    """What a store was built with; a store refuses to open with a different embedder or keyword analysis."""

    embedder: str
    dimension: int
    # The keyword analysis of the BM25 vectors. Stores from before we had our own were built with the
    # engine's tokenizer, recorded as LEGACY_ANALYZER.
    analyzer: str = ANALYZER


@dataclass(slots=True)
class DocumentRecord:
    """One ingested document as the ledger remembers it."""

    doc_id: str
    source: str
    sha256: str
    size: int
    mtime_ns: int
    chunk_ids: list[str] = field(default_factory=list)
    ingested_at: str = ""
    title: str = ""
    file_type: str = ""
    pipeline: str = ""  # parser version and chunk settings that produced the chunks
    access: list[str] = field(default_factory=list)  # the labels its chunks carry (rag.access)
    # Access an admin set on upload; it overrides the folder rules. None: the rules decide.
    access_override: list[str] | None = None
    # Raised by every write of the record; a writer that read generation g writes only if it is still g
    # (ingest.ledger), so a stale worker cannot overwrite a newer result. 0: never written.
    generation: int = 0

    @property
    def chunks(self) -> int:
        return len(self.chunk_ids)
